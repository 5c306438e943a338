"""What an ended trial tells the sweep: it is recorded through the one outcome path, and when it shows that every
trial would fail the same way — it refused its parameters, or finished without logging the sweep's metric — the
sweep ends with exit code 2 (fix the YAML). Then, when the agent stops, what its exit code says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localsweep.core.trial import FINISHED, Trial, succeeded
from localsweep.outcome.decide import Ending, Verdict
from localsweep.outcome.record import logged_keys, record_ending
from localsweep.search import measure
from localsweep.storage.store import SweepStore


@dataclass(frozen=True)
class Ended:
    """Why an agent ended and the exit code that says it: 0 the sweep has a scored trial; 1 no trial succeeded,
    or the sweep gave up; 2 the sweep's parameters or metric are wrong (fix the YAML); 128 + N stopped by signal
    N (continue with ``resume``)."""

    reason: str
    exit_code: int


@dataclass(frozen=True)
class Told:
    """An ended trial as recorded, and whether it ended the sweep."""

    trial: Trial
    verdict: Verdict
    ended_sweep: bool


def tell(store: SweepStore, run_id: str, ending: Ending, owner: str) -> Told | None:
    """Record how the trial ended (None: the sweep gave it up while its agent was cut off, nothing recorded) and
    end the sweep when the trial shows its YAML is wrong."""
    recorded = record_ending(store, run_id, ending, owner=owner)
    if recorded is None:
        return None
    trial, verdict = recorded
    wrong = _wrong_yaml(store, trial, verdict)
    if wrong is not None:
        store.end_sweep(wrong, exit_code=2, interrupt=True)
    return Told(trial, verdict, ended_sweep=wrong is not None)


def _wrong_yaml(store: SweepStore, trial: Trial, verdict: Verdict) -> str | None:
    if verdict.refused:
        return (
            f"trial {trial.number} ({trial.run_id}) refused its parameters (exit code 2, what argparse and "
            f"`python -m trainer` exit with for arguments they refuse), so every trial would: fix the sweep's "
            f"parameters. It said:\n{last_lines(trial.error)}"
        )
    if trial.state == FINISHED and (unlogged := measure.unlogged(store.config, trial)):
        logged = ", ".join(logged_keys(trial)) or "nothing"
        return (
            f"the sweep's metric {', '.join(map(repr, unlogged))} was never logged by trial {trial.number} "
            f"({trial.run_id}), which finished: without it the search has no signal. It logged: {logged}. "
            f"Fix metric.name in the sweep YAML"
        )
    return None


def exit_status(store: SweepStore, ended: dict[str, Any] | None, count: int | None) -> Ended:
    """Why an agent that was not stopped by a signal ends: the sweep's recorded end (``ended``), else its own
    ``--count`` reached; exit code 0 only when the sweep has a scored trial."""
    if ended is not None and ended["exit_code"] is not None:
        return Ended(str(ended["reason"]), int(str(ended["exit_code"])))
    reason = str(ended["reason"]) if ended is not None else f"--count {count} trials taken"
    trials = store.trials()
    if any(succeeded(t, store.metric_name) for t in trials):
        return Ended(reason, 0)
    failed = [t for t in trials if t.failed]
    if not failed:
        return Ended(f"{reason}; no trial has finished yet", 1)
    first = failed[0]
    return Ended(
        f"{reason}; no trial succeeded: all {len(failed)} failed. The first, trial {first.number} "
        f"({first.run_id}), said:\n{last_lines(first.error)}",
        1,
    )


def last_lines(text: str | None, count: int = 12) -> str:
    """The end of an error text (a traceback's last lines hold the exception)."""
    lines = (text or "").strip().splitlines()
    return "\n".join(lines[-count:]) or "(no error text)"
