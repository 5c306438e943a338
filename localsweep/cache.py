"""The sweep's trials as an agent sees them: in memory, refreshed with only what changed."""

from __future__ import annotations

from localsweep.store import SweepStore
from localsweep.trial import Trial, TrialState


class TrialCache:
    """The sweep's trials in memory, refreshed by reading only the rows that changed since the last read, and
    indexed by state, so that a pass of the loop costs the same with ten trials or ten thousand."""

    def __init__(self, store: SweepStore) -> None:
        self._store = store
        self._rev = -1
        self._by_id: dict[str, Trial] = {}
        self._by_state: dict[TrialState, dict[str, Trial]] = {state: {} for state in TrialState}
        self._ordered: list[Trial] | None = None
        self.changed = True

    def refresh(self) -> None:
        """Read what changed; :attr:`changed` says whether anything did."""
        changed, self._rev = self._store.changed_since(self._rev)
        for trial in changed:
            old = self._by_id.get(trial.run_id)
            if old is not None:
                del self._by_state[old.state][old.run_id]
            self._by_id[trial.run_id] = self._by_state[trial.state][trial.run_id] = trial
        self.changed = bool(changed)
        if changed:
            self._ordered = None

    def all(self) -> list[Trial]:
        """Every trial, in order (sorted again only after a change)."""
        if self._ordered is None:
            self._ordered = sorted(self._by_id.values(), key=lambda t: t.number)
        return self._ordered

    def get(self, run_id: str) -> Trial | None:
        """One trial, if known."""
        return self._by_id.get(run_id)

    def in_state(self, state: TrialState) -> dict[str, Trial]:
        """The trials in ``state``, by run id."""
        return self._by_state[state]
