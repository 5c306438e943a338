"""The sweep's trials as an agent sees them: in memory, refreshed with only what changed, with the counts and the
best trial kept up to date as they change, so that a pass of the loop costs the same at ten trials or ten thousand."""

from __future__ import annotations

from collections import Counter

from contract.objectives import DEFAULT_GOAL, Objective, primary
from localsweep.core.trial import Trial, TrialState, succeeded
from localsweep.storage.view import SweepView


class TrialCache:
    """The trials of ``store``, refreshed by reading only the rows that changed since the last read."""

    def __init__(self, store: SweepView) -> None:
        self._store = store
        self._objective = primary(store.config) or Objective("", DEFAULT_GOAL)
        self._metric = store.metric_name
        self._rev = -1
        self._by_id: dict[str, Trial] = {}
        self._by_state: dict[TrialState, dict[str, Trial]] = {state: {} for state in TrialState}
        self._ordered: list[Trial] = []  # by number; numbers are given 1, 2, 3... by the store
        self.counts: Counter[TrialState] = Counter()
        """Trials per state, the requeued (interrupted) and retried ones (out of the search) left out."""
        self.requeued = 0
        self.leader: Trial | None = None
        """The best scored trial so far (the earliest on a tie)."""
        self.reached: Trial | None = None
        """The first scored trial that reached ``metric.target``."""
        self.any_succeeded = False
        self.changed = True

    def refresh(self) -> list[Trial]:
        """Read what changed, and return it; :attr:`changed` says whether anything did since :meth:`settle`."""
        changed, self._rev = self._store.changed_since(self._rev)
        for trial in changed:
            self._replace(self._by_id.get(trial.run_id), trial)
        if changed:
            self.changed = True
        return changed

    def _replace(self, old: Trial | None, new: Trial) -> None:
        if old is not None:
            del self._by_state[old.state][old.run_id]
            self._count(old, -1)
        self._by_id[new.run_id] = self._by_state[new.state][new.run_id] = new
        self._count(new, +1)
        if new.number == len(self._ordered) + 1:
            self._ordered.append(new)
        elif new.number <= len(self._ordered):
            self._ordered[new.number - 1] = new
        else:  # numbers read out of order: place them properly
            self._ordered = sorted(self._by_id.values(), key=lambda t: t.number)
        if new.scored and new.metric_value is not None:
            if (
                self.leader is None
                or self.leader.metric_value is None
                or self._objective.better(new.metric_value, self.leader.metric_value)
            ):
                self.leader = new
            if self.reached is None and self._objective.reached(new.metric_value):
                self.reached = new
        self.any_succeeded = self.any_succeeded or succeeded(new, self._metric)

    def _count(self, trial: Trial, step: int) -> None:
        if not trial.counts:  # out of the search: their points run again
            self.requeued += step
        else:
            self.counts[trial.state] += step

    def settle(self) -> None:
        """Everything read so far has been looked at: :attr:`changed` turns False until the next change."""
        self.changed = False

    def all(self) -> list[Trial]:
        """Every trial, in order."""
        return self._ordered

    def get(self, run_id: str) -> Trial | None:
        """One trial, if known."""
        return self._by_id.get(run_id)

    def in_state(self, state: TrialState) -> dict[str, Trial]:
        """The trials in ``state``, by run id."""
        return self._by_state[state]

    @property
    def searched(self) -> int:
        """How many trials the search counts (all but the requeued and the retried)."""
        return len(self._by_id) - self.requeued
