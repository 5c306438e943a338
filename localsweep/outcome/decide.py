"""How a trial ended, decided in one place for every way a trial or its sweep can stop.

A trial ends by itself (exit 0, an error, a signal), is stopped by early termination, times out, is interrupted
because its sweep was stopped (Ctrl-C, SIGTERM, ``docker stop``), or loses its controller (``kill -9``, then
``resume``). Whatever happened, the same rule applies, and :func:`decide` is the only place that applies it:

1. A trial whose wandb run finished (its exit record says exit code 0) is ``finished``: its metrics, run dir and
   artifacts are complete, whatever happened to the process afterwards. W&B marks such a run finished too. Two
   things are still said beside it (the verdict's error): a process that failed by itself after its run finished
   (``raise SystemExit("msg")`` after ``run.finish()``: its exit code and last words), and a metric logged only as
   NaN, ±inf or a non-number (a diverged run). The latter leaves the trial *unscored*: no score, the search imputes
   its metric (``metric.impute``) as W&B's does, and the sweep goes on.
2. Otherwise, a trial that early termination asked to stop is ``stopped`` (its logged metrics are real; unscored
   as above when they are not finite).
3. Otherwise it is ``crashed``: timed out, interrupted (then also *requeued*: it does not count toward the search,
   and a grid gives its point to a new trial), or failed; the error says which.

Pure: the caller reads the run record and the process's exit; nothing here touches a file or a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localsweep.core.runlog import RunRecord
from localsweep.core.trial import CRASHED, FINISHED, STOPPED, TrialState
from localsweep.workers.slot import Outcome, describe_exit, plain

# 2: what argparse exits with for arguments it refuses, and what `python -m trainer` (and its pooled entry point)
# exits with for a config or dataset it refuses. Such a trial's parameters will be refused every time.
REFUSED_EXIT_CODE = 2
TIMED_OUT = "timed out after"
"""How the error of a timed-out trial begins (the outcome rule's reason, before the trial's last output)."""
UNSCORED = "unscored: "
"""How the error of a trial whose metric was never a finite number begins."""
FAILED_AFTER_RUN = "after its wandb run finished, its process failed: "
"""How the note on a finished trial whose process then failed by itself begins (its output follows)."""


@dataclass(frozen=True)
class Ending:
    """What the controller knows about a trial that is no longer running.

    ``process`` is how the trial's process ended, None when nobody could wait for it (its controller died).
    ``stop_requested``: early termination asked it to stop. ``timed_out``: it ran past ``--trial-timeout``
    (``timeout_s``). ``interrupted``: the sweep was stopped, or its controller died, while the trial ran.
    ``output_tail`` is the end of the trial's output, for the error text. ``unscored`` says why the run's logged
    metrics give the sweep no value (logged, but never as a finite number: see
    :func:`localsweep.search.measure.unscored`), empty when they do.
    """

    process: Outcome | None
    stop_requested: bool = False
    timed_out: bool = False
    interrupted: bool = False
    timeout_s: float | None = None
    output_tail: str = ""
    unscored: str = ""


@dataclass(frozen=True)
class Verdict:
    """The decision: the trial's state; the error to record (why it crashed, or what went wrong beside a finished
    or stopped run; None when nothing did); whether it is requeued; whether its failure means the sweep's
    parameters are refused (the sweep must stop); whether its metric is ``unscored`` (logged, never finite)."""

    state: TrialState
    error: str | None = None
    requeue: bool = False
    refused: bool = False
    unscored: bool = False

    @property
    def imputed(self) -> bool:
        """Whether the search imputes the trial's metric (W&B's ``metric.impute``): a crashed trial that counts,
        or an unscored one."""
        return self.unscored or (self.state == CRASHED and not self.requeue)


def decide(ending: Ending, run: RunRecord | None) -> Verdict:
    """Decide how a trial ended from what its process did and what its wandb run record says.

    ``run`` is the trial's offline run as read from disk (None when it never created one).

    >>> decide(Ending(process=Outcome(exit_code=-9, error="killed"), interrupted=True), None).error
    "interrupted: the sweep stopped before this trial's wandb run finished (it never started a wandb run)"
    >>> done = RunRecord("r", Path("/w/offline-run-1-r"), {}, [], {}, exit_code=0)
    >>> print(decide(Ending(Outcome(1, "exit code 1\\nbad checkpoint")), done).error)
    after its wandb run finished, its process failed: exit code 1
    bad checkpoint
    """
    code = None if ending.process is None else ending.process.exit_code
    unscored = UNSCORED + ending.unscored if ending.unscored else None
    if run is not None and run.finished and run.exit_code == 0:
        error = "\n".join(filter(None, [unscored, _failed_after_run(ending)])) or None
        return Verdict(FINISHED, error, unscored=unscored is not None)
    if ending.stop_requested:
        return Verdict(STOPPED, unscored, unscored=unscored is not None)
    if ending.timed_out:
        timeout = f"{ending.timeout_s:g} s" if ending.timeout_s is not None else "its time limit"
        ended = f"{describe_exit(code)}\n{ending.output_tail}".rstrip()
        return Verdict(CRASHED, f"{TIMED_OUT} {timeout} (--trial-timeout), then ended: {ended}")
    if ending.interrupted:
        error = f"interrupted: the sweep stopped before this trial's wandb run finished ({_run_state(run)})"
        return Verdict(CRASHED, error, requeue=True)
    if code == 0:
        return Verdict(CRASHED, f"the trial exited 0 but {_run_state(run)}")
    return Verdict(CRASHED, _said(ending.process), refused=code == REFUSED_EXIT_CODE)


def _failed_after_run(ending: Ending) -> str | None:
    """What a process that ended badly by itself after its wandb run finished said (None when the sweep stopped
    it, or it exited 0): the run's result stands, and the failure is kept beside it."""
    process = ending.process
    if process is None or process.exit_code in (0, None) or ending.stop_requested or ending.timed_out:
        return None
    if ending.interrupted:
        return None
    return FAILED_AFTER_RUN + _said(process)


def _said(process: Outcome | None) -> str:
    """What a failed process said, or how it ended when it said nothing readable."""
    code = None if process is None else process.exit_code
    said = "" if process is None or process.error is None else process.error.rstrip()
    return said if plain(said).strip() else describe_exit(code)


def _run_state(run: RunRecord | None) -> str:
    if run is None:
        return "it never started a wandb run"
    if not run.finished:
        return f"its wandb run ({Path(run.run_dir).name}) has no exit record"
    return f"its wandb run ended with exit code {run.exit_code}"
