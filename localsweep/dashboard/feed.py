"""One sweep followed live: its trials in memory, refreshed with only what changed, and each change handed to the
open pages as a delta.

A poll reads the trials changed since the last revision (:meth:`SweepView.changed_since`), the new lines of the
running trials' live histories and the sweep's state (controller, agents, end: a few rows), never every trial: it
costs the same at 100 trials as at 10,000. One thread polls (:mod:`localsweep.dashboard.catalog`); the pages'
requests read what it published, under :attr:`Feed.lock`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from contract.objectives import is_multi_objective, objectives
from localsweep.core import pareto
from localsweep.core.trial import ENDED, RUNNING, Trial
from localsweep.dashboard import rows, summary
from localsweep.dashboard.live import LiveHistory
from localsweep.storage.cache import TrialCache
from localsweep.storage.view import SweepView

Push = Callable[[str], None]
"""Hands one event (JSON text) to one open page; called from the polling thread."""


class Feed:
    """The sweep ``view`` as the pages see it. Only the polling thread calls :meth:`poll`."""

    def __init__(self, view: SweepView) -> None:
        self.view = view
        self.about = summary.about(view)
        self._goals = objectives(view.config)
        self._multi = is_multi_objective(view.config)
        self._cache = TrialCache(view)
        self._live: dict[str, LiveHistory] = {}
        self.lock = threading.Lock()
        """Held while what the pages read changes (the polling thread) and while a page reads it."""
        self._trials: dict[str, Trial] = {}
        self._histories: dict[str, list[dict[str, Any]]] = {}
        self._rows: dict[str, tuple[int, str]] = {}
        """Each trial's number and its row as JSON text, made once per change: a snapshot only joins them."""
        self._front: list[Trial] = []
        self.state: dict[str, Any] = {}
        self.scored = 0
        """Changes to scored trials so far: what the parameter importance depends on."""
        self._pages: list[Push] = []

    def poll(self) -> None:
        """Read what changed and hand it to every open page (nothing when nothing changed)."""
        changed = {t.run_id: t for t in self._cache.refresh()}
        histories = {}
        running = self._cache.in_state(RUNNING)
        for run_id, trial in running.items():
            if (history := self._read_live(trial)) is not None:
                histories[run_id] = history
                changed[run_id] = trial
        for run_id in [r for r in self._live if r not in running]:
            del self._live[run_id]  # ended: the store holds its whole history now
        front = self._new_front(list(changed.values())) if self._multi else None
        state = summary.state(self.view, self._cache.counts, self._cache.requeued, self._cache.leader)
        made = [self._row(t, histories.get(t.run_id)) for t in changed.values()]
        with self.lock:
            for trial, history, text in made:
                self._keep(trial, history, text)
            delta: dict[str, Any] = {}
            if front is not None:
                self._front = front
                delta["front"] = [t.run_id for t in front]
            if not summary.same(state, self.state):
                delta["state"] = state
            self.state = state
            if (made or delta) and self._pages:
                self._publish(_with_rows({"kind": "delta", **delta}, [text for _, _, text in made]))

    def _read_live(self, trial: Trial) -> list[dict[str, Any]] | None:
        """A running trial's live history when it grew past the stored one (read on this host only)."""
        live = self._live.get(trial.run_id)
        if live is None:
            live = self._live[trial.run_id] = LiveHistory(self.view.layout.live_path(trial.run_id))
        history = live.read()
        return history if history is not None and len(history) > len(trial.history) else None

    def _new_front(self, changed: list[Trial]) -> list[Trial] | None:
        """The Pareto front after ``changed``, or None when it stays. A trial that just ended can only join the
        front and push members out, so the front of the old front and it is the new one; a change to a trial that
        had ended already (retried, say) is rare and recomputes the whole front."""
        if any((old := self._trials.get(t.run_id)) is not None and old.state in ENDED for t in changed):
            return pareto.front(self.view.config, self._cache.all())
        arrived = [t for t in changed if t.state in ENDED]
        if not arrived:
            return None
        front = pareto.front(self.view.config, sorted([*self._front, *arrived], key=lambda t: t.number))
        return None if front == self._front else front

    def _row(self, trial: Trial, live: list[dict[str, Any]] | None) -> tuple[Trial, list[dict[str, Any]] | None, str]:
        """The trial, the live history to keep for it (None: the stored one is the whole), and its row's text."""
        kept = self._histories.get(trial.run_id)
        if live is not None:
            kept = live
        elif trial.state != RUNNING or kept is None or len(trial.history) >= len(kept):
            kept = None  # the store's history is the whole one again
        row = rows.row(trial, self._goals, kept)
        return trial, kept, json.dumps(row, allow_nan=False, separators=(",", ":"))

    def _keep(self, trial: Trial, history: list[dict[str, Any]] | None, text: str) -> None:
        old = self._trials.get(trial.run_id)
        if trial.scored or (old is not None and old.scored):
            self.scored += 1
        self._trials[trial.run_id] = trial
        if history is None:
            self._histories.pop(trial.run_id, None)
        else:
            self._histories[trial.run_id] = history
        self._rows[trial.run_id] = (trial.number, text)

    def _publish(self, event: str) -> None:
        for push in list(self._pages):
            push(event)

    def subscribe(self, push: Push) -> str:
        """Register an open page; returns the snapshot (JSON text) the deltas it gets next start from."""
        with self.lock:
            self._pages.append(push)
            snapshot = {
                "kind": "snapshot",
                "about": self.about,
                "state": self.state,
                "front": [t.run_id for t in self._front] if self._multi else None,
            }
            texts = [text for _, text in sorted(self._rows.values())]
        return _with_rows(snapshot, texts)

    def unsubscribe(self, push: Push) -> None:
        """The page went away."""
        with self.lock:
            if push in self._pages:
                self._pages.remove(push)

    def trial(self, run_id: str) -> tuple[Trial, list[dict[str, Any]] | None]:
        """A trial as last read, and its live history when that is longer than the stored one.

        Raises
        ------
        KeyError
            When the sweep has no such trial (yet).
        """
        with self.lock:
            return self._trials[run_id], self._histories.get(run_id)

    def scored_trials(self) -> tuple[int, list[Trial]]:
        """The trials that measured the sweep metric, with :attr:`scored` at the time."""
        with self.lock:
            return self.scored, [t for t in self._trials.values() if t.scored and t.counts]


def _with_rows(event: dict[str, Any], texts: list[str]) -> str:
    """``event`` as JSON text with ``"rows"``: the rows' texts as they were made (omitted when there are none in a
    delta).

    >>> _with_rows({"kind": "delta"}, ['{"run_id": "a"}'])
    '{"kind": "delta", "rows": [{"run_id": "a"}]}'
    """
    head = json.dumps(event, allow_nan=False)
    if not texts and event["kind"] == "delta":
        return head
    return f'{head[:-1]}, "rows": [{", ".join(texts)}]}}'
