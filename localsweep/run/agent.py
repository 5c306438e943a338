"""An agent: the loop that runs a sweep's trials in worker slots, on any host that reaches the sweep's store.

``run`` and ``resume`` start one agent that holds the controller role from the start; ``localsweep agent NAME``
starts more, anywhere, which take the role over when its holder dies. Each pass of the loop:

- heartbeats (the agent, its idle capacity; the lease when it holds the role) and reads only the trials that
  changed since the last pass (:class:`TrialCache`);
- while it holds the role, does the controller's duties (``localsweep/run/controller.py``);
- carries the controller's decisions to its own trials: stop one (early termination), let one waiting at a rung
  go on (``live/<run id>.decision``), and pushes their live history back for the next decision;
- records every trial of its own that ended, through the one outcome path (``record.record_ending``), fenced by
  ownership: a trial the sweep gave up while this agent was cut off is not recorded twice;
- takes pending trials for its idle slots (each pending trial goes to exactly one agent).

Stopping: SIGINT (Ctrl-C, or ``docker stop`` through dumb-init) and SIGTERM only set a flag. The agent then takes
nothing new, asks each of its running trials to stop (what ``wandb agent`` sends: SIGTERM; pooled: an exception in
the trial), waits up to ``kill_delay`` for each to finish its wandb run, and records them all; a second signal ends
them at once. A trial whose wandb run completed anyway is recorded finished; the others are interrupted (they do
not count, and their grid points run again).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from wandb.sdk.lib.runid import generate_id

from localsweep.core.trial import FINISHED, Trial, succeeded
from localsweep.outcome.decide import Ending, Verdict
from localsweep.outcome.record import logged_keys, record_ending
from localsweep.run.controller import Controller
from localsweep.run.progress import Progress
from localsweep.search import measure, suggest
from localsweep.storage import lease
from localsweep.storage.cache import TrialCache
from localsweep.storage.lease import HEARTBEAT_S, LeaseLostError, SweepBusyError
from localsweep.storage.store import AgentInfo, SweepStore
from localsweep.workers import rungs
from localsweep.workers.command import CommandSlot
from localsweep.workers.handoff import TrialTask, gpu_ids, read_live_history, slot_environments
from localsweep.workers.pool import PooledSlot
from localsweep.workers.slot import Outcome, Slot

INTERRUPTED_BASE = 128  # a process ended by signal N exits 128 + N (130 for SIGINT, 143 for SIGTERM)
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


@dataclass(frozen=True)
class Ended:
    """Why an agent ended and the exit code that says it: 0 the sweep has a scored trial; 1 no trial succeeded,
    or the sweep gave up; 2 the sweep's parameters or metric are wrong (fix the YAML); 128 + N stopped by signal
    N (continue with ``resume``)."""

    reason: str
    exit_code: int


class Agent:
    """Runs trials of the sweep in ``store``; holds the controller role when ``store`` holds the lease or when it
    can take a dead holder's place."""

    def __init__(self, store: SweepStore, options: RunOptions, progress: Progress) -> None:
        self.store = store
        self.options = options
        self.progress = progress
        self.config = store.config
        me = lease.this_process()
        self.info = AgentInfo(
            f"{me.host}-{me.pid}-{generate_id(4)}", me.host, me.pid, me.pid_started, str(options.workdir.resolve()),
            time.time(), time.time(), options.workers, 0, None,
        )  # fmt: skip
        envs = slot_environments(options.workers, gpu_ids(), len(os.sched_getaffinity(0)))
        self.slots: list[Slot] = [self._slot(env) for env in envs]
        self.cache = TrialCache(store)
        self.project: str | None = self.config.get("project")
        self.role: Controller | None = self._role() if store.holds_lease else None
        self.running: dict[str, Slot] = {}
        self.launched_at: dict[str, float] = {}
        self.stopping: set[str] = set()  # early termination asked these to stop
        self.timed_out: set[str] = set()
        self.interrupting: set[str] = set()  # asked to stop because the sweep (or this agent) is stopping
        self.decisions: dict[str, int] = {}  # the rung decision last passed to each running trial
        self.pushed: dict[str, int] = {}  # how much live history of each running trial is in the store
        self.taken = 0
        self.durations: list[float] = []
        self.signal: int | None = None
        self._hurry = False
        self._idle = -1
        self._planned = self._plan()
        self._ending = False  # this agent ended the sweep in this pass (the next pass reads it from the store)

    def _slot(self, env: dict[str, str]) -> Slot:
        if self.options.function:
            return PooledSlot(self.options.function, env, self.options.max_trials_per_worker, self.options.kill_delay)
        return CommandSlot(self.config, env, self.options.workdir, self.options.kill_delay)

    def _role(self) -> Controller:
        return Controller(
            self.store,
            search_options=self.options.search,
            max_initial_failures=self.options.max_initial_failures,
            event=lambda text: self.progress.event(text, None),
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._hurry = self.signal is not None  # a second signal: end the trials now
        self.signal = signum

    def run(self) -> Ended:
        """Run trials until the sweep ends, this agent's ``count`` is reached or a signal stops it; every trial it
        took is recorded before this returns."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self.store.register_agent(self.info)
        try:
            return self._loop()
        finally:
            for slot in self.slots:
                slot.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.store.leave(self.info.agent_id)
            self.store.release_lease()
            self.progress.close()

    def _loop(self) -> Ended:
        last_beat = last_role = 0.0
        while True:
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_S:
                self._heartbeat()
                last_beat = now
            self.cache.refresh()
            ended = self.store.ended()
            if self.signal is not None and not self.interrupting.issuperset(self.running):
                self.progress.event(f"stopped by {signal.Signals(self.signal).name}: ending the running trials "
                                    "(again to end them at once)", None)  # fmt: skip
            if self.signal is not None or (ended is not None and ended["interrupt"]):
                self._interrupt_running()
            if self.role is not None and ended is None and (self.cache.changed or now - last_role >= _ROLE_EVERY_S):
                self._controller_duties()
                last_role = now
                self.cache.settle()
                self.cache.refresh()
            self._carry_decisions()
            self._collect()
            self._push_live()
            if self.signal is None and ended is None and not self._ending:
                self._take()
            if self.cache.changed and self.progress.live:
                self.progress.show(self._status())
            if self.role is None:
                self.cache.settle()
            if not self.running and (self.signal is not None or ended is not None or self._count_reached()):
                return self._ended(ended)
            time.sleep(self.options.poll_interval)

    def _heartbeat(self) -> None:
        if self.role is not None:
            try:
                self.store.heartbeat()
            except LeaseLostError as err:
                self.role = None
                self.progress.event(f"{err}; this agent goes on running trials", None)
        elif self.signal is None:
            holder, dead = self.store.controller()
            if holder is None or dead is not None:
                try:
                    taken = self.store.acquire_lease()
                except SweepBusyError:
                    taken = None  # another agent was quicker
                else:
                    self.role = self._role()
                    was = f" from {taken[0].describe(time.time())}: {taken[1]}" if taken else ""
                    self.progress.event(f"agent {self.info.agent_id} took the controller role{was}", None)
        self._announce(force=True)

    def _announce(self, force: bool = False) -> None:
        """Tell the controller how many more trials this agent would take now (at once when that changes)."""
        idle = 0 if self.signal is not None else sum(not s.busy for s in self.slots)
        if self.options.count is not None:
            idle = min(idle, self.options.count - self.taken)
        if force or idle != self._idle:
            self.store.agent_heartbeat(self.info.agent_id, idle)
            self._idle = idle

    def _controller_duties(self) -> None:
        assert self.role is not None  # for mypy: the caller checked
        try:
            self.role.tick(self.cache, self.store.agents())
        except LeaseLostError as err:
            self.role = None
            self.progress.event(f"{err}; this agent goes on running trials", None)

    def _ended(self, ended: dict[str, object] | None) -> Ended:
        if self.signal is not None:
            return Ended(f"stopped by {signal.Signals(self.signal).name}", INTERRUPTED_BASE + self.signal)
        if ended is not None and ended["exit_code"] is not None:
            return Ended(str(ended["reason"]), int(str(ended["exit_code"])))
        reason = str(ended["reason"]) if ended is not None else f"--count {self.options.count} trials taken"
        trials = self.store.trials()
        if any(succeeded(t, self.store.metric_name) for t in trials):
            return Ended(reason, 0)
        failed = [t for t in trials if t.failed]
        if not failed:
            return Ended(f"{reason}; no trial has finished yet", 1)
        first = failed[0]
        return Ended(
            f"{reason}; no trial succeeded: all {len(failed)} failed. The first, trial {first.number} "
            f"({first.run_id}), said:\n{_last_lines(first.error)}",
            1,
        )

    def _count_reached(self) -> bool:
        return self.options.count is not None and self.taken >= self.options.count

    def _interrupt_running(self) -> None:
        for run_id, slot in self.running.items():
            if run_id not in self.interrupting:
                self.interrupting.add(run_id)
                slot.stop()
                if "early_terminate" in self.config:
                    rungs.decide(self.store.layout.live_path(run_id), None)  # do not wait at a rung any more
            if self._hurry:
                slot.kill()

    def _status(self) -> str:
        mean = statistics.fmean(self.durations) if self.durations else None
        return self.progress.line(self.cache, self._planned, mean, self.options.workers)

    def _plan(self) -> int | None:
        done = len(suggest.searched(self.store.trials()))
        limits = [self.config.get("run_cap"), suggest.space_size(self.config, self.options.search)]
        if self.options.count is not None:
            limits.append(done + self.options.count)
        known = [n for n in limits if n]
        return min(known) if known else None

    def _take(self) -> None:
        free = [slot for slot in self.slots if not slot.busy]
        want = len(free) if self.options.count is None else min(len(free), self.options.count - self.taken)
        self._announce()
        if want <= 0:
            return
        for trial, slot in zip(
            self.store.claim(self.info.agent_id, self.info.host, want, set(self.running)), free, strict=False
        ):
            layout = self.store.layout
            waits = rungs.environment(self.config, layout.live_path(trial.run_id))
            task = TrialTask.create(layout, self.store.sweep_id, trial.run_id, trial.params, self.project, waits)
            slot.start(task)
            if slot.pid is not None:
                self.store.set_pid(trial.run_id, slot.pid)
            self.running[trial.run_id] = slot
            self.launched_at[trial.run_id] = time.monotonic()
            self.taken += 1
            config = " ".join(f"{k}={v['value']}" for k, v in trial.params.items())
            self.progress.event(f"trial {trial.number} {trial.run_id} started: {config}", None)
        self._announce()

    def _carry_decisions(self) -> None:
        for run_id in self.running:
            trial = self.cache.get(run_id)
            if trial is None:
                continue
            live_path = self.store.layout.live_path(trial.run_id)
            if trial.stop_requested and trial.run_id not in self.stopping | self.interrupting:
                self.stopping.add(trial.run_id)
                self.running[trial.run_id].stop()
                rungs.decide(live_path, None)  # after the signal: a trial waiting at a rung sees it when it wakes
            if trial.decided > self.decisions.get(trial.run_id, 0):
                rungs.decide(live_path, trial.decided)
                self.decisions[trial.run_id] = trial.decided

    def _push_live(self) -> None:
        if not suggest.stops_early(self.config):
            return
        for run_id in self.running:
            live = read_live_history(self.store.layout.live_path(run_id))
            if len(live) > self.pushed.get(run_id, 0):
                self.store.push_history(run_id, self.info.agent_id, live)
                self.pushed[run_id] = len(live)

    def _collect(self) -> None:
        timeout = self.options.trial_timeout
        for run_id, slot in list(self.running.items()):
            process = slot.poll()
            if process is not None:
                del self.running[run_id]
                self._finish(run_id, process)
            elif (
                timeout is not None
                and run_id not in self.timed_out | self.stopping | self.interrupting
                and time.monotonic() - self.launched_at[run_id] > timeout
            ):
                self.timed_out.add(run_id)
                # A hung pooled trial may never run a signal handler: its worker is killed (and replaced);
                # a command-mode trial gets SIGTERM, then SIGKILL after the kill delay.
                slot.kill() if self.options.function else slot.stop()
                self.progress.event(f"{run_id} timed out after {timeout:g} s: ending it", None)

    def _finish(self, run_id: str, process: Outcome) -> None:
        ending = Ending(
            process,
            stop_requested=run_id in self.stopping,
            timed_out=run_id in self.timed_out,
            interrupted=run_id in self.interrupting,
            timeout_s=self.options.trial_timeout,
        )
        for marks in (self.stopping, self.timed_out, self.interrupting):
            marks.discard(run_id)
        self.decisions.pop(run_id, None)
        self.pushed.pop(run_id, None)
        recorded = record_ending(self.store, run_id, ending, owner=self.info.agent_id)
        if recorded is None:
            self.progress.event(
                f"{run_id} was given up by the sweep while this agent could not reach its store: its result is not "
                "recorded (the trial ran again elsewhere)",
                None,
            )
            return
        self._count(*recorded)

    def _count(self, trial: Trial, verdict: Verdict) -> None:
        self.durations.append(trial.duration or 0.0)
        self.cache.refresh()
        self.progress.event(self.progress.ended(trial), self._status())
        if verdict.refused:
            self._ending = True
            self.store.end_sweep(
                f"trial {trial.number} ({trial.run_id}) refused its parameters (exit code 2, what argparse and "
                f"`python -m trainer` exit with for arguments they refuse), so every trial would: fix the sweep's "
                f"parameters. It said:\n{_last_lines(trial.error)}",
                exit_code=2,
                interrupt=True,
            )
        elif trial.state == FINISHED and (unlogged := measure.unlogged(self.config, trial)):
            logged = ", ".join(logged_keys(trial)) or "nothing"
            self._ending = True
            self.store.end_sweep(
                f"the sweep's metric {', '.join(map(repr, unlogged))} was never logged by trial {trial.number} "
                f"({trial.run_id}), which finished: without it the search has no signal. It logged: {logged}. "
                f"Fix metric.name in the sweep YAML",
                exit_code=2,
                interrupt=True,
            )


def _last_lines(text: str | None, count: int = 12) -> str:
    lines = (text or "").strip().splitlines()
    return "\n".join(lines[-count:]) or "(no error text)"
