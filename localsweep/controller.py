"""The sweep loop: ask W&B's engine for parameters, run trials in worker slots, record every result.

The loop is single-threaded and polls; every state change goes to the store before anything else happens,
so a killed controller can be resumed (``resume``) without losing a finished trial or repeating a grid point.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wandb.sdk.lib.runid import generate_id

from localsweep import runlog, search
from localsweep.command import CommandSlot
from localsweep.handoff import TrialTask, gpu_ids, read_live_history, slot_environments
from localsweep.pool import PooledSlot
from localsweep.report import Progress
from localsweep.slot import Outcome, Slot, describe_exit, log_tail
from localsweep.store import CRASHED, FINISHED, STOPPED, SweepStore, Trial

_EXIT_RECORD_WAIT_S = 5.0  # run.finish() can return before the exit record is on disk (NOTES.md)
_HYPERBAND_EVERY_S = 0.5


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


class SweepInterruptedError(Exception):
    """SIGTERM or Ctrl-C reached the controller."""


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise SweepInterruptedError(signal.Signals(signum).name)


class Controller:
    """Runs a sweep stored in ``store`` until its budget, grid, target or failure limit ends it."""

    def __init__(self, store: SweepStore, options: RunOptions, progress: Progress) -> None:
        self.store = store
        self.options = options
        self.progress = progress
        self.config = store.config
        self.wandb_dir = store.directory.resolve()
        envs = slot_environments(options.workers, gpu_ids(), len(os.sched_getaffinity(0)))
        self.slots: list[Slot] = [self._slot(env) for env in envs]
        self.running: dict[str, Slot] = {}
        self.stopping: set[str] = set()
        self.launched_at: dict[str, float] = {}
        self.timed_out: set[str] = set()
        self.started = 0
        self.failed = 0
        self.ended = 0
        self.durations: list[float] = []
        self.reason: str | None = None
        self.gave_up = False
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

    def run(self) -> str:
        """Run the sweep; returns why it ended. Raises :class:`SweepInterruptedError` after cleaning up on a signal."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
        last_check = 0.0
        try:
            while True:
                self._collect()
                if "early_terminate" in self.config and time.monotonic() - last_check >= _HYPERBAND_EVERY_S:
                    self._early_terminate()
                    last_check = time.monotonic()
                self._launch()
                if self.reason is not None and not self.running:
                    return self.reason
                self.progress.show(self._status())
                time.sleep(self.options.poll_interval)
        except (SweepInterruptedError, KeyboardInterrupt):
            for slot in self.slots:
                slot.close()
            self.store.mark_interrupted(requeue=self.config.get("method") == "grid")
            raise SweepInterruptedError("the sweep was interrupted; continue it with `resume`") from None
        finally:
            for slot in self.slots:
                slot.close()
            signal.signal(signal.SIGTERM, previous)
            self.progress.close()

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
            if self.reason is not None or slot.busy:
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
            task = TrialTask(
                run_id=run_id,
                sweep_id=self.store.sweep_id,
                params=params,
                wandb_dir=self.wandb_dir,
                log_path=self.store.directory / "logs" / f"{run_id}.log",
                project=self.config.get("project"),
            )
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
            outcome = slot.poll()
            if outcome is not None:
                del self.running[run_id]
                self.stopping.discard(run_id)
                self._record(run_id, outcome)
            elif (
                timeout is not None
                and run_id not in self.timed_out | self.stopping
                and time.monotonic() - self.launched_at[run_id] > timeout
            ):
                self.timed_out.add(run_id)
                slot.time_out()
                self.progress.event(f"{run_id} timed out after {timeout:g} s: ending it", None)

    def salvage(self, interrupted: list[Trial]) -> list[str]:
        """Record as finished the interrupted trials whose wandb run completed anyway (exit code 0 on disk).

        A trial can end after its controller was killed but before ``resume``: its grid point must not run twice.
        Call after :func:`localsweep.orphans.end_orphans`, so no trial is still writing. Returns their run ids.
        """
        salvaged = []
        for trial in interrupted:
            record = self._read_run(trial.run_id, wait=False)
            if record is not None and record.exit_code == 0:
                self._record(trial.run_id, Outcome(exit_code=0, error=None, stopped=False))
                salvaged.append(trial.run_id)
        return salvaged

    def _read_run(self, run_id: str, wait: bool) -> runlog.RunRecord | None:
        deadline = time.monotonic() + (_EXIT_RECORD_WAIT_S if wait else 0.0)
        while True:
            run_dir = runlog.find_run_dir(self.wandb_dir, run_id)
            record = None
            if run_dir is not None:
                try:
                    record = runlog.read_run(run_dir)
                except (OSError, ValueError):
                    record = None  # the log is being created: its header is not on disk yet
            if (record is not None and record.finished) or time.monotonic() >= deadline:
                return record
            time.sleep(0.02)

    def _record(self, run_id: str, outcome: Outcome) -> None:
        # A process that exited by itself has written (or is writing) the exit record; one killed by a signal
        # (negative code) never will, so do not wait for it.
        exited = outcome.exit_code is not None and outcome.exit_code >= 0
        record = self._read_run(run_id, wait=exited)
        error = outcome.error
        if run_id in self.timed_out:  # however its process ended, a trial past its time limit did not finish
            self.timed_out.discard(run_id)
            state = CRASHED
            error = (
                f"timed out after {self.options.trial_timeout:g} s (--trial-timeout), then ended: "
                f"{describe_exit(outcome.exit_code)}\n{log_tail(self.store.directory / 'logs' / f'{run_id}.log')}"
            )
        elif outcome.stopped:
            state = STOPPED
        elif outcome.exit_code == 0 and record is None:
            state = CRASHED
            error = f"the trial exited 0 but never started a wandb run (no run directory under {self.wandb_dir})"
        else:
            state = FINISHED if outcome.exit_code == 0 else CRASHED
        history = [] if record is None else record.history
        live = read_live_history(self.store.directory / "live" / f"{run_id}.jsonl")
        if len(live) > len(history):  # a killed trial's last log block never reached the disk
            history = live
        summary = {} if record is None else record.summary
        value = search.metric_value(self.config, summary, history)
        imputed = state == CRASHED  # W&B's search imputes every crashed run's metric (metric.impute)
        if imputed:
            trials = self.store.trials()
            this = next(t for t in trials if t.run_id == run_id)
            value = search.imputed_metric(self.config, replace(this, history=history, summary=summary), trials)
        artifacts = (
            []
            if record is None
            else [
                {"name": a.name, "type": a.type, "entries": {k: str(v) for k, v in a.entries.items()}}
                for a in record.artifacts
            ]
        )
        self.store.finish_trial(
            run_id,
            state=state,
            exit_code=outcome.exit_code,
            error=error,
            run_dir=None if record is None else record.run_dir,
            history=history,
            summary=summary,
            artifacts=artifacts,
            metric_value=value,
            metric_imputed=imputed,
        )
        self._count(run_id, state, value, error)

    def _count(self, run_id: str, state: str, value: float | None, error: str | None) -> None:
        ended = next(t for t in self.store.trials() if t.run_id == run_id)
        self.ended += 1
        self.durations.append(ended.duration or 0.0)
        detail = f"{self.store.metric_name}={value:.4g}" if value is not None else ""
        if state == CRASHED:
            self.failed += 1
            detail += f" error: {(error or '').strip().splitlines()[-1:] or ['?']}"
        self.progress.event(f"trial {ended.number} {run_id} {state} {detail}".rstrip(), self._status())
        if self.failed >= self.ended and self.failed >= self.options.max_initial_failures:
            self.gave_up = True
            self.reason = (
                f"{self.failed} trials failed and none succeeded: stopping (see the errors with "
                f"`python -m localsweep status {self.store.name}`; trial logs are in {self.store.directory / 'logs'})"
            )
        elif state == FINISHED and search.reached_target(self.config, value):
            self.reason = f"metric.target {self.config['metric']['target']} reached by {run_id}"

    def _early_terminate(self) -> None:
        # The .wandb log only reaches the disk in 32 KiB blocks: read the mirrored wandb.log calls instead.
        live_dir = self.store.directory / "live"
        live = {run_id: read_live_history(live_dir / f"{run_id}.jsonl") for run_id in self.running}
        for run_id in search.runs_to_stop(self.config, live, self.store.trials()):
            if run_id not in self.stopping:
                self.stopping.add(run_id)
                self.running[run_id].stop()
                self.progress.event(f"hyperband: stopping {run_id}", None)
