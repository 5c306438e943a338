"""An agent: the loop that runs a sweep's trials in worker slots, on any host that reaches the sweep's store.

``run`` and ``resume`` start one agent that holds the controller role from the start; ``localsweep agent NAME``
starts more, anywhere, which take the role over when its holder dies. The loop only asks, runs and hands over, as
Optuna's ``_optimize`` does; each job is another object's:

- ``Membership``: heartbeats, the idle capacity it announces, the controller role (taken over when its holder is
  dead) and its duties (``controller.py``);
- ``TrialCache``: only the trials that changed since the last pass are read;
- ``Running``: one record per running trial; starts trials in free slots, carries the controller's decisions to
  them (stop one, let one waiting at a rung go on), pushes their live history, ends the ones past the timeout;
- ``tell``: every ended trial is recorded through the one outcome path, fenced by ownership (a trial the sweep gave
  up while this agent was cut off is not recorded twice); a trial showing the YAML is wrong ends the sweep;
- ``StopSignals``: SIGINT (Ctrl-C, or ``docker stop`` through dumb-init) and SIGTERM only set a flag. The agent then
  takes nothing new, asks each of its running trials to stop (what ``wandb agent`` sends: SIGTERM; pooled: an
  exception in the trial), waits up to ``kill_delay`` for each to finish its wandb run, and records them all; a
  second signal ends them at once. A trial whose wandb run completed anyway is recorded finished; the others are
  interrupted (they do not count, and their grid points run again).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from localsweep.core.trial import Trial
from localsweep.run.controller import Controller
from localsweep.run.membership import Membership
from localsweep.run.progress import Progress
from localsweep.run.running import Running, RunningTrial
from localsweep.run.signals import INTERRUPTED_BASE, StopSignals
from localsweep.run.tell import Ended, exit_status, tell
from localsweep.search import suggest
from localsweep.storage.cache import TrialCache
from localsweep.storage.lease import HEARTBEAT_S
from localsweep.storage.store import SweepStore
from localsweep.workers.command import CommandSlot
from localsweep.workers.handoff import gpu_ids, slot_environments
from localsweep.workers.pool import PooledSlot
from localsweep.workers.slot import Outcome, Slot

__all__ = ["INTERRUPTED_BASE", "Agent", "Ended", "RunOptions"]

_ROLE_EVERY_S = 0.1  # the controller's duties at most this often (and whenever trials changed)


@dataclass(frozen=True)
class RunOptions:
    """How to run trials; ``count`` limits the trials this agent takes (like ``wandb agent --count``); ``search``
    holds the sweep's search settings (seed, ``--distinct``, prior trials, custom source), used in the controller
    role.

    ``max_initial_failures`` mirrors the agent's WANDB_AGENT_MAX_INITIAL_FAILURES: the sweep stops when that
    many trials failed and none succeeded. ``trial_timeout`` (seconds, None for no limit) ends a trial that runs
    longer (command mode: SIGTERM, then SIGKILL after ``kill_delay``; pooled: its worker is killed and replaced)
    and records it crashed.
    """

    workers: int = 1
    count: int | None = None
    search: suggest.SearchOptions = field(default_factory=suggest.SearchOptions)
    function: str | None = None
    max_trials_per_worker: int = 20
    kill_delay: float = 30.0
    max_initial_failures: int = 5
    trial_timeout: float | None = None
    poll_interval: float = 0.05
    workdir: Path = Path()


class Agent:
    """Runs trials of the sweep in ``store``; holds the controller role when ``store`` holds the lease or when it
    can take a dead holder's place."""

    def __init__(self, store: SweepStore, options: RunOptions, progress: Progress) -> None:
        self.store = store
        self.options = options
        self.progress = progress
        envs = slot_environments(options.workers, gpu_ids(), len(os.sched_getaffinity(0)))
        self.member = Membership(
            store,
            slots=options.workers,
            workdir=str(options.workdir.resolve()),
            make_role=self._role,
            event=self._event,
        )
        self.running = Running(
            store,
            self.member.seat,
            [self._slot(env) for env in envs],
            trial_timeout=options.trial_timeout,
            kill_on_timeout=options.function is not None,
            event=self._event,
        )
        self.cache = TrialCache(store)
        self.signals = StopSignals()
        self.taken = 0
        self.durations: list[float] = []
        self._planned = self._plan()
        self._ending = False  # this agent ended the sweep in this pass (the next pass reads it from the store)

    def _slot(self, env: dict[str, str]) -> Slot:
        if self.options.function:
            return PooledSlot(self.options.function, env, self.options.max_trials_per_worker, self.options.kill_delay)
        return CommandSlot(self.store.config, env, self.options.workdir, self.options.kill_delay)

    def _role(self) -> Controller:
        return Controller(
            self.store,
            search_options=self.options.search,
            max_initial_failures=self.options.max_initial_failures,
            event=self._event,
        )

    def _event(self, text: str) -> None:
        self.progress.event(text, None)

    def run(self) -> Ended:
        """Run trials until the sweep ends, this agent's ``count`` is reached or a signal stops it; every trial it
        took is recorded before this returns."""
        with self.signals:
            self.member.join()
            try:
                ended = self._loop()
            finally:
                self.running.close()
                self.member.leave()
                self.progress.close()
        if self.signals.received and ended.exit_code < INTERRUPTED_BASE:
            # A signal while leaving: the trials are recorded, and the process still says it was stopped.
            return Ended(f"{ended.reason} (then stopped by {self.signals.name})", self.signals.exit_code)
        return ended

    def _loop(self) -> Ended:
        last_beat = last_role = 0.0
        while True:
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_S:
                self.member.heartbeat(self._idle(), stopping=self.signals.received)
                last_beat = now
            self.cache.refresh()
            ended = self.store.ended()
            if self.signals.received and not self.running.all_interrupted:
                self._event(f"stopped by {self.signals.name}: ending the running trials (again to end them at once)")
            if self.signals.received or (ended is not None and ended["interrupt"]):
                self.running.interrupt(self.signals.hurry)
            if (
                self.member.role is not None
                and ended is None
                and (self.cache.changed or now - last_role >= _ROLE_EVERY_S)
            ):
                self.member.duties(self.cache)
                last_role = now
                self.cache.settle()
                self.cache.refresh()
            self.running.carry_decisions(self.cache)
            for running, process in self.running.collect():
                self._finish(running, process)
            self.running.push_live()
            if not self.signals.received and ended is None and not self._ending:
                self._take()
            if self.cache.changed and self.progress.live:
                self.progress.show(self._status())
            if self.member.role is None:
                self.cache.settle()
            if not len(self.running) and (self.signals.received or ended is not None or self._count_reached()):
                if self.signals.received:
                    return Ended(f"stopped by {self.signals.name}", self.signals.exit_code)
                return exit_status(self.store, ended, self.options.count)
            time.sleep(self.options.poll_interval)

    def _idle(self) -> int:
        """How many more trials this agent would take now."""
        idle = 0 if self.signals.received else len(self.running.free())
        if self.options.count is not None:
            idle = min(idle, self.options.count - self.taken)
        return idle

    def _count_reached(self) -> bool:
        return self.options.count is not None and self.taken >= self.options.count

    def _status(self) -> str:
        mean = statistics.fmean(self.durations) if self.durations else None
        return self.progress.line(self.cache, self._planned, mean, self.options.workers)

    def _plan(self) -> int | None:
        done = len(suggest.searched(self.store.trials()))
        limits = [self.store.config.get("run_cap"), suggest.space_size(self.store.config, self.options.search)]
        if self.options.count is not None:
            limits.append(done + self.options.count)
        known = [n for n in limits if n]
        return min(known) if known else None

    def _take(self) -> None:
        free = self.running.free()
        want = len(free) if self.options.count is None else min(len(free), self.options.count - self.taken)
        self.member.announce(self._idle())
        if want <= 0:
            return
        claimed = self.member.seat.claim(want, self.running.run_ids())
        for trial, slot in zip(claimed, free, strict=False):
            self.running.start(trial, slot)
            self.taken += 1
            config = " ".join(f"{k}={v['value']}" for k, v in trial.params.items())
            self._event(f"trial {trial.number} {trial.run_id} started: {config}")
        self.member.announce(self._idle())

    def _finish(self, running: RunningTrial, process: Outcome) -> None:
        told = tell(
            self.store, running.run_id, running.ending(process, self.options.trial_timeout), self.member.agent_id
        )
        if told is None:
            self._event(
                f"{running.run_id} was given up by the sweep while this agent could not reach its store: its result "
                "is not recorded (the trial ran again elsewhere)"
            )
            return
        self._ending = self._ending or told.ended_sweep
        self._show(told.trial)

    def _show(self, trial: Trial) -> None:
        self.durations.append(trial.duration or 0.0)
        self.cache.refresh()
        self.progress.event(self.progress.ended(trial), self._status())
