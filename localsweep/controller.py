"""The sweep loop: ask W&B's engine for parameters, run trials in worker slots, record every ending.

The loop is single-threaded and polls. Every state change goes to the store before anything else happens, so a
killed controller can be resumed (``resume``) without losing a finished trial or repeating a grid point. How a
trial ended is not decided here: every ending goes through :func:`localsweep.record.record_ending`.

Stopping: SIGINT (Ctrl-C, or ``docker stop`` through dumb-init) and SIGTERM only set a flag. The loop then starts
nothing new, asks each running trial to stop (what ``wandb agent`` sends: SIGTERM; pooled: an exception in the
trial), waits up to ``kill_delay`` for each to finish its wandb run, and records them all; a second signal ends
them at once. A trial whose wandb run completed anyway is recorded finished; the others are interrupted (they do
not count, and ``resume`` runs their grid points again).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from wandb.sdk.lib.runid import generate_id

from localsweep import search
from localsweep.command import CommandSlot
from localsweep.handoff import TrialTask, gpu_ids, read_live_history, slot_environments
from localsweep.lease import HEARTBEAT_S
from localsweep.outcome import Ending, Verdict
from localsweep.pool import PooledSlot
from localsweep.record import logged_keys, record_ending
from localsweep.report import Progress
from localsweep.slot import Outcome, Slot
from localsweep.store import SweepStore
from localsweep.trial import CRASHED, FINISHED, STOPPED, Trial

_EARLY_TERMINATE_EVERY_S = 0.5
INTERRUPTED_BASE = 128  # a process ended by signal N exits 128 + N (130 for SIGINT, 143 for SIGTERM)


@dataclass(frozen=True)
class RunOptions:
    """How to run trials; ``count`` limits the trials started by this invocation (like ``wandb agent --count``).

    ``max_initial_failures`` mirrors the agent's WANDB_AGENT_MAX_INITIAL_FAILURES: the sweep stops when that
    many trials failed and none succeeded. ``trial_timeout`` (seconds, None for no limit) ends a trial that runs
    longer (command mode: SIGTERM, then SIGKILL after ``kill_delay``; pooled: its worker is killed and replaced)
    and records it crashed.
    """

    workers: int = 1
    count: int | None = None
    seed: int | None = None
    function: str | None = None
    max_trials_per_worker: int = 20
    kill_delay: float = 30.0
    max_initial_failures: int = 5
    trial_timeout: float | None = None
    poll_interval: float = 0.05
    workdir: Path = Path()


@dataclass(frozen=True)
class Ended:
    """Why a controller's run ended and the exit code that says it: 0 the sweep has a scored trial; 1 no trial
    succeeded, or the sweep gave up; 2 the sweep's parameters or metric are wrong (fix the YAML);
    128 + N interrupted by signal N (continue with ``resume``)."""

    reason: str
    exit_code: int


class Controller:
    """Runs a sweep stored in ``store`` (whose lease it holds) until its budget, grid, target or a failure ends it."""

    def __init__(self, store: SweepStore, options: RunOptions, progress: Progress) -> None:
        self.store = store
        self.options = options
        self.progress = progress
        self.config = store.config
        envs = slot_environments(options.workers, gpu_ids(), len(os.sched_getaffinity(0)))
        self.slots: list[Slot] = [self._slot(env) for env in envs]
        self.running: dict[str, Slot] = {}
        self.launched_at: dict[str, float] = {}
        self.stopping: set[str] = set()  # early termination asked these to stop
        self.timed_out: set[str] = set()
        self.interrupting: set[str] = set()  # asked to stop because the sweep is stopping
        self.started = 0
        self.failed = 0
        self.ended = 0
        self.durations: list[float] = []
        self.reason: str | None = None  # once set, nothing new starts
        self.exit_code: int | None = None  # set when an ending decides the sweep's exit code
        self.signal: int | None = None
        self._interrupt = False  # end the running trials too (a signal, or parameters/metric that cannot work)
        self._hurry = False
        self._planned = self._plan()

    def _slot(self, env: dict[str, str]) -> Slot:
        if self.options.function:
            return PooledSlot(self.options.function, env, self.options.max_trials_per_worker, self.options.kill_delay)
        return CommandSlot(self.config, env, self.options.workdir, self.options.kill_delay)

    def _plan(self) -> int | None:
        done = len(search.searched(self.store.trials()))
        limits = [self.config.get("run_cap"), search.grid_size(self.config)]
        if self.options.count is not None:
            limits.append(done + self.options.count)
        known = [n for n in limits if n]
        return min(known) if known else None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._hurry = self.signal is not None  # a second signal: end the trials now
        self.signal = signum

    def run(self) -> Ended:
        """Run the sweep until it ends or a signal stops it; every trial started is recorded before this returns.

        Raises
        ------
        localsweep.lease.LeaseLostError
            When another controller took the sweep over (its running trials are killed, not recorded).
        """
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._loop()
            return self._ended()
        finally:
            for slot in self.slots:
                slot.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.progress.close()

    def _loop(self) -> None:
        last_heartbeat = last_check = time.monotonic()
        while self.running or (self.reason is None and self.signal is None):
            now = time.monotonic()
            if now - last_heartbeat >= HEARTBEAT_S:
                self.store.heartbeat()
                last_heartbeat = now
            if self.signal is not None and not self._interrupt:
                self._interrupt = True
                self.reason = f"stopped by {signal.Signals(self.signal).name}"
                self.progress.event(f"{self.reason}: ending the running trials (again to end them at once)", None)
            if self._interrupt:
                self._interrupt_running()
            self._collect()
            if "early_terminate" in self.config and now - last_check >= _EARLY_TERMINATE_EVERY_S:
                self._early_terminate()
                last_check = now
            self._launch()
            self.progress.show(self._status())
            time.sleep(self.options.poll_interval)

    def _ended(self) -> Ended:
        if self.signal is not None:
            return Ended(self.reason or "interrupted", INTERRUPTED_BASE + self.signal)
        reason = self.reason or "nothing left to run"
        if self.exit_code is not None:
            return Ended(reason, self.exit_code)
        trials = self.store.trials()
        if any(_succeeded(self.store.metric_name, t) for t in trials):
            return Ended(reason, 0)
        failed = [t for t in trials if t.state == CRASHED and not t.requeued]
        if not failed:
            return Ended(f"{reason}; no trial has finished yet", 1)
        first = failed[0]
        return Ended(
            f"{reason}; no trial succeeded: all {len(failed)} failed. The first, trial {first.number} "
            f"({first.run_id}), said:\n{_last_lines(first.error)}",
            1,
        )

    def _interrupt_running(self) -> None:
        for run_id, slot in self.running.items():
            if run_id not in self.interrupting:
                self.interrupting.add(run_id)
                slot.stop()
            if self._hurry:
                slot.kill()

    def _status(self) -> str:
        mean = statistics.fmean(self.durations) if self.durations else None
        return self.progress.line(self._planned, mean, self.options.workers)

    def _budget_reason(self, trials: list[Trial]) -> str | None:
        if self.options.count is not None and self.started >= self.options.count:
            return f"--count {self.options.count} trials started"
        cap = self.config.get("run_cap")
        if cap is not None and len(search.searched(trials)) >= cap:
            return f"run_cap {cap} reached"
        return None

    def _launch(self) -> None:
        for slot in self.slots:
            if self.reason is not None or self.signal is not None or slot.busy:
                continue
            trials = self.store.trials()
            self.reason = self._budget_reason(trials)
            if self.reason is not None:
                return
            params = search.suggest(self.config, trials, self.options.seed)
            if params is None:
                self.reason = "grid exhausted: every point has run"
                return
            run_id = generate_id()
            task = TrialTask.create(self.store.layout, self.store.sweep_id, run_id, params, self.config.get("project"))
            number = self.store.add_trial(run_id, params)
            slot.start(task)
            if slot.pid is not None:
                self.store.set_pid(run_id, slot.pid)
            self.running[run_id] = slot
            self.launched_at[run_id] = time.monotonic()
            self.started += 1
            config = " ".join(f"{k}={v['value']}" for k, v in params.items())
            self.progress.event(f"trial {number} {run_id} started: {config}", None)

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
        trial, verdict = record_ending(self.store, run_id, ending)
        self._count(trial, verdict)

    def _count(self, trial: Trial, verdict: Verdict) -> None:
        self.ended += 1
        self.durations.append(trial.duration or 0.0)
        name = self.store.metric_name
        detail = f"{name}={trial.metric_value:.4g}" if trial.metric_value is not None else ""
        if trial.state == CRASHED:
            detail += f" error: {_last_lines(trial.error, 1)}"
        self.progress.event(f"trial {trial.number} {trial.run_id} {trial.state} {detail}".rstrip(), self._status())
        if self.reason is not None and self.exit_code is not None:
            return  # the sweep is already ending for a reason that decides its exit code
        if verdict.refused:
            self._fail(
                f"trial {trial.number} ({trial.run_id}) refused its parameters (exit code 2, what argparse and "
                f"`python -m trainer` exit with for arguments they refuse), so every trial would: fix the sweep's "
                f"parameters. It said:\n{_last_lines(trial.error)}"
            )
        elif trial.state == CRASHED and not trial.requeued:
            self.failed += 1
            if self.failed >= self.ended and self.failed >= self.options.max_initial_failures:
                self.exit_code = 1  # the running trials may still succeed: they finish
                self.reason = (
                    f"{self.failed} trials failed and none succeeded: stopping (see the errors with "
                    f"`python -m localsweep status {self.store.name}`; trial logs are in "
                    f"{self.store.layout.logs_dir})"
                )
        elif trial.state == FINISHED and name is not None and trial.metric_value is None:
            logged = ", ".join(logged_keys(trial)) or "nothing"
            self._fail(
                f"the sweep's metric {name!r} was never logged by trial {trial.number} ({trial.run_id}), which "
                f"finished: without it the search has no signal. It logged: {logged}. Fix metric.name in the "
                f"sweep YAML"
            )
        elif trial.state == FINISHED and search.reached_target(self.config, trial.metric_value):
            self.reason = f"metric.target {self.config['metric']['target']} reached by {trial.run_id}"

    def _fail(self, reason: str) -> None:
        """End the sweep with exit code 2 for ``reason``: nothing new starts and the running trials are
        interrupted (their parameters are as wrong as this trial's)."""
        self.reason, self.exit_code, self._interrupt = reason, 2, True

    def _early_terminate(self) -> None:
        # The .wandb log only reaches the disk in 32 KiB blocks: read the mirrored wandb.log calls instead.
        live = {run_id: read_live_history(self.store.layout.live_path(run_id)) for run_id in self.running}
        for run_id in search.runs_to_stop(self.config, live, self.store.trials()):
            if run_id not in self.stopping | self.interrupting:
                self.stopping.add(run_id)
                self.running[run_id].stop()
                self.progress.event(f"hyperband: stopping {run_id}", None)


def _succeeded(metric_name: str | None, trial: Trial) -> bool:
    """A trial that did what the sweep needs: measured the metric, or (no metric) finished."""
    return trial.scored if metric_name is not None else trial.state in (FINISHED, STOPPED)


def _last_lines(text: str | None, count: int = 12) -> str:
    lines = (text or "").strip().splitlines()
    return "\n".join(lines[-count:]) or "(no error text)"
