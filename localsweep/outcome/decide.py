"""How a trial ended, decided in one place for every way a trial or its sweep can stop.

A trial ends by itself (exit 0, an error, a signal), is stopped by early termination, times out, is interrupted
because its sweep was stopped (Ctrl-C, SIGTERM, ``docker stop``), or loses its controller (``kill -9``, then
``resume``). Whatever happened, the same rule applies, and :func:`decide` is the only place that applies it:

1. A trial whose wandb run finished (its exit record says exit code 0) is ``finished``: its metrics, run dir and
   artifacts are complete, whatever happened to the process afterwards. W&B marks such a run finished too.
2. Otherwise, a trial that early termination asked to stop is ``stopped`` (its logged metrics are real).
3. Otherwise it is ``crashed``: timed out, interrupted (then also *requeued*: it does not count toward the search,
   and a grid gives its point to a new trial), or failed; the error says which.

Pure: the caller reads the run record and the process's exit; nothing here touches a file or a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localsweep.core.runlog import RunRecord
from localsweep.core.trial import CRASHED, FINISHED, STOPPED, TrialState
from localsweep.workers.slot import Outcome, describe_exit

# 2: what argparse exits with for arguments it refuses, and what `python -m trainer` (and its pooled entry point)
# exits with for a config or dataset it refuses. Such a trial's parameters will be refused every time.
REFUSED_EXIT_CODE = 2


@dataclass(frozen=True)
class Ending:
    """What the controller knows about a trial that is no longer running.

    ``process`` is how the trial's process ended, None when nobody could wait for it (its controller died).
    ``stop_requested``: early termination asked it to stop. ``timed_out``: it ran past ``--trial-timeout``
    (``timeout_s``). ``interrupted``: the sweep was stopped, or its controller died, while the trial ran.
    ``output_tail`` is the end of the trial's output, for the error text.
    """

    process: Outcome | None
    stop_requested: bool = False
    timed_out: bool = False
    interrupted: bool = False
    timeout_s: float | None = None
    output_tail: str = ""


@dataclass(frozen=True)
class Verdict:
    """The decision: the trial's state, the error to record (None unless crashed), whether it is requeued, and
    whether its failure means the sweep's parameters are refused (the sweep must stop)."""

    state: TrialState
    error: str | None = None
    requeue: bool = False
    refused: bool = False


def decide(ending: Ending, run: RunRecord | None) -> Verdict:
    """Decide how a trial ended from what its process did and what its wandb run record says.

    ``run`` is the trial's offline run as read from disk (None when it never created one).

    >>> decide(Ending(process=Outcome(exit_code=-9, error="killed"), interrupted=True), None).error
    "interrupted: the sweep stopped before this trial's wandb run finished (it never started a wandb run)"
    """
    code = None if ending.process is None else ending.process.exit_code
    if run is not None and run.finished and run.exit_code == 0:
        return Verdict(FINISHED)
    if ending.stop_requested:
        return Verdict(STOPPED)
    if ending.timed_out:
        timeout = f"{ending.timeout_s:g} s" if ending.timeout_s is not None else "its time limit"
        ended = f"{describe_exit(code)}\n{ending.output_tail}".rstrip()
        return Verdict(CRASHED, f"timed out after {timeout} (--trial-timeout), then ended: {ended}")
    if ending.interrupted:
        error = f"interrupted: the sweep stopped before this trial's wandb run finished ({_run_state(run)})"
        return Verdict(CRASHED, error, requeue=True)
    if code == 0:
        return Verdict(CRASHED, f"the trial exited 0 but {_run_state(run)}")
    error = ending.process.error if ending.process is not None and ending.process.error else describe_exit(code)
    return Verdict(CRASHED, error.rstrip(), refused=code == REFUSED_EXIT_CODE)


def _run_state(run: RunRecord | None) -> str:
    if run is None:
        return "it never started a wandb run"
    if not run.finished:
        return f"its wandb run ({Path(run.run_dir).name}) has no exit record"
    return f"its wandb run ended with exit code {run.exit_code}"
