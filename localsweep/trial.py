"""A trial of a sweep, its states, and the one comparison of metric values under the sweep's goal.

Pure code: nothing here touches storage, processes or wandb.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TrialState(enum.StrEnum):
    """How far a trial got. Stored as its value, so a ``TrialState`` compares equal to that string.

    ``stopped`` = ended early by the sweep's early termination (its metrics are real measurements); ``crashed`` =
    ended with an error, timed out, or interrupted before its wandb run finished. W&B's ``killed``/``failed`` are
    not used: the record says what happened, the search maps it to W&B's run states.
    """

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    CRASHED = "crashed"


RUNNING, FINISHED, STOPPED, CRASHED = TrialState.RUNNING, TrialState.FINISHED, TrialState.STOPPED, TrialState.CRASHED


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep as recorded.

    ``config`` holds plain values (``{"learning_rate": 0.001}``); ``params`` the same in W&B's sweep form
    (``{"learning_rate": {"value": 0.001}}``). ``metric_value`` is the sweep metric (summary value, else the
    best value in the history; imputed per ``metric.impute`` for crashed trials, then ``metric_imputed``).
    ``requeued`` marks a trial interrupted (the sweep was stopped, or its controller died) before its wandb run
    finished: it does not count toward the search, and a grid gives its point to a new trial.
    """

    number: int
    run_id: str
    state: TrialState
    params: dict[str, Any]
    started_at: float
    ended_at: float | None
    exit_code: int | None
    error: str | None
    run_dir: Path | None
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    artifacts: list[dict[str, Any]]
    metric_value: float | None
    metric_imputed: bool
    requeued: bool
    pid: int | None

    @property
    def config(self) -> dict[str, Any]:
        """The trial's parameters as plain values."""
        return {key: value["value"] for key, value in self.params.items()}

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def scored(self) -> bool:
        """True when the trial measured the sweep metric: finished or stopped, with a value that is not imputed."""
        return self.state in (FINISHED, STOPPED) and self.metric_value is not None and not self.metric_imputed


def better(goal: str, value: float, than: float) -> bool:
    """Whether ``value`` is strictly better than ``than`` under the sweep's ``metric.goal``.

    >>> better("maximize", 0.9, 0.8), better("minimize", 0.9, 0.8)
    (True, False)
    """
    return value > than if goal == "maximize" else value < than


def reaches(goal: str, value: float, target: float) -> bool:
    """Whether ``value`` meets ``target`` under ``goal`` (W&B's ``metric.target``: equal counts).

    >>> reaches("maximize", 0.98, 0.98), reaches("minimize", 0.2, 0.1)
    (True, False)
    """
    return not better(goal, target, value)


def sort_key(goal: str, value: float | None) -> float:
    """A key that sorts values best first under ``goal`` (missing values need their own key: this takes floats).

    >>> sorted([0.2, 0.9, 0.5], key=lambda v: sort_key("maximize", v))
    [0.9, 0.5, 0.2]
    """
    return -(value or 0.0) if goal == "maximize" else (value or 0.0)


def best(goal: str, trials: Iterable[Trial]) -> Trial | None:
    """The scored trial with the best metric under ``goal`` (the earliest on a tie), or None."""
    ranked = sorted((t for t in trials if t.scored), key=lambda t: (sort_key(goal, t.metric_value), t.number))
    return ranked[0] if ranked else None
