"""The trials one agent runs right now: one record per trial (its slot, and what the agent has asked of it), and
what the agent does to them on every pass — start them in free slots, carry the controller's decisions to them,
push their live history to the store, end the ones that ran too long, and collect the ones that ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import objectives
from localsweep.core.trial import Trial
from localsweep.outcome.decide import Ending
from localsweep.search import suggest
from localsweep.storage.cache import TrialCache
from localsweep.storage.seat import AgentSeat
from localsweep.storage.store import SweepStore
from localsweep.workers import rungs
from localsweep.workers.handoff import TrialTask, read_live_history
from localsweep.workers.slot import Outcome, Slot


@dataclass
class RunningTrial:
    """One trial this agent runs: its slot, when it started (monotonic), and what the agent asked of it."""

    run_id: str
    slot: Slot
    live_path: Path
    started: float
    stop_requested: bool = False  # early termination asked it to stop
    timed_out: bool = False
    interrupted: bool = False  # asked to stop because the sweep (or this agent) is stopping
    decided: int = 0  # the rung decision last passed to it
    pushed: int = 0  # how much of its live history is in the store

    def ending(self, process: Outcome, timeout_s: float | None) -> Ending:
        """What the outcome rule needs to know about how it ended."""
        return Ending(
            process,
            stop_requested=self.stop_requested,
            timed_out=self.timed_out,
            interrupted=self.interrupted,
            timeout_s=timeout_s,
        )


class Running:
    """The trials running in this agent's ``slots``, keyed by run id."""

    def __init__(
        self,
        store: SweepStore,
        seat: AgentSeat,
        slots: list[Slot],
        *,
        trial_timeout: float | None,
        kill_on_timeout: bool,
        event: Callable[[str], None],
    ) -> None:
        self._store = store
        self._seat = seat
        self._config = store.config
        self._project: str | None = store.config.get("project")
        self.slots = slots
        self._timeout = trial_timeout
        self._kill_on_timeout = kill_on_timeout
        self._event = event
        self._trials: dict[str, RunningTrial] = {}

    def __len__(self) -> int:
        return len(self._trials)

    def __iter__(self) -> Iterator[RunningTrial]:
        return iter(list(self._trials.values()))

    def run_ids(self) -> set[str]:
        """The run ids of the trials running here."""
        return set(self._trials)

    def free(self) -> list[Slot]:
        """The slots with no trial."""
        return [slot for slot in self.slots if not slot.busy]

    def start(self, trial: Trial, slot: Slot) -> None:
        """Start a trial the store gave this agent, in a free slot."""
        layout = self._store.layout
        live_path = layout.live_path(trial.run_id)
        extra = rungs.environment(self._config, live_path) | objectives.environment(self._config)
        task = TrialTask.create(layout, self._store.sweep_id, trial.run_id, trial.params, self._project, extra)
        slot.start(task)
        if slot.pid is not None:
            self._seat.set_pid(trial.run_id, slot.pid)
        self._trials[trial.run_id] = RunningTrial(trial.run_id, slot, live_path, time.monotonic())

    def interrupt(self, hurry: bool) -> bool:
        """Ask every trial to stop because the sweep is stopping (at once with ``hurry``); True when one was asked
        for the first time."""
        asked = False
        for running in self._trials.values():
            if not running.interrupted:
                running.interrupted = asked = True
                running.slot.stop()
                if "early_terminate" in self._config:
                    rungs.decide(running.live_path, None)  # do not wait at a rung any more
            if hurry:
                running.slot.kill()
        return asked

    @property
    def all_interrupted(self) -> bool:
        """Whether every running trial was asked to stop for the sweep's sake."""
        return all(running.interrupted for running in self._trials.values())

    def carry_decisions(self, cache: TrialCache) -> None:
        """Carry the controller's decisions to the trials: stop one (early termination), let one waiting at a rung
        go on past it."""
        for running in self._trials.values():
            trial = cache.get(running.run_id)
            if trial is None:
                continue
            if trial.stop_requested and not (running.stop_requested or running.interrupted):
                running.stop_requested = True
                running.slot.stop()
                rungs.decide(running.live_path, None)  # after the signal: a trial waiting at a rung sees it on waking
            if trial.decided > running.decided:
                rungs.decide(running.live_path, trial.decided)
                running.decided = trial.decided

    def push_live(self) -> None:
        """Put what each trial has logged so far into the store, where early termination reads it (any host)."""
        if not suggest.stops_early(self._config):
            return
        for running in self._trials.values():
            live: list[dict[str, Any]] = read_live_history(running.live_path)
            if len(live) > running.pushed:
                self._seat.push_history(running.run_id, live)
                running.pushed = len(live)

    def collect(self) -> list[tuple[RunningTrial, Outcome]]:
        """The trials whose process ended, with how (they leave this collection); a trial running longer than the
        timeout is asked to end."""
        ended = []
        for running in list(self._trials.values()):
            process = running.slot.poll()
            if process is not None:
                del self._trials[running.run_id]
                ended.append((running, process))
            elif self._overdue(running):
                running.timed_out = True
                # A hung pooled trial may never run a signal handler: its worker is killed (and replaced);
                # a command-mode trial gets SIGTERM, then SIGKILL after the kill delay.
                running.slot.kill() if self._kill_on_timeout else running.slot.stop()
                self._event(f"{running.run_id} timed out after {self._timeout:g} s: ending it")
        return ended

    def _overdue(self, running: RunningTrial) -> bool:
        asked = running.timed_out or running.stop_requested or running.interrupted
        return self._timeout is not None and not asked and time.monotonic() - running.started > self._timeout

    def close(self) -> None:
        """End every slot's worker (and any trial still in it)."""
        for slot in self.slots:
            slot.close()
