"""A trial of a sweep, its states, and the rules read off it: whether it counts toward the search, whether it
scored, which is best.

Pure code: nothing here touches storage, processes or wandb.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.objectives import sort_key


class TrialState(enum.StrEnum):
    """How far a trial got. Stored as its value, so a ``TrialState`` compares equal to that string.

    ``pending`` = suggested by the controller, not yet taken by an agent; ``running`` = taken and started;
    ``stopped`` = ended early by the sweep's early termination (its metrics are real measurements); ``crashed`` =
    ended with an error, timed out, or interrupted before its wandb run finished. W&B's ``killed``/``failed`` are
    not used: the record says what happened, the search maps it to W&B's run states.
    """

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    CRASHED = "crashed"


PENDING, RUNNING, FINISHED = TrialState.PENDING, TrialState.RUNNING, TrialState.FINISHED
STOPPED, CRASHED = TrialState.STOPPED, TrialState.CRASHED
ENDED = (FINISHED, STOPPED, CRASHED)


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep as recorded.

    ``config`` holds plain values (``{"learning_rate": 0.001}``); ``params`` the same in W&B's sweep form
    (``{"learning_rate": {"value": 0.001}}``). ``metric_value`` is the sweep metric (summary value, else the
    best value in the history; imputed per ``metric.impute`` for crashed trials, then ``metric_imputed``).
    ``requeued`` marks a trial interrupted (the sweep was stopped, or its controller died) before its wandb run
    finished: it does not count toward the search, and a grid gives its point to a new trial. ``agent`` and
    ``host`` say who runs (ran) it; ``stop_requested`` is early termination's decision to stop it, ``decided`` the
    length of its metric history that early termination has judged (a trial waiting at a rung goes on past it).
    ``retried`` marks a crashed trial that ``resume --retry-crashed`` runs again: it stays in the record, out of
    the search, and its parameters run again in a new trial.
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
    agent: str | None = None
    host: str | None = None
    stop_requested: bool = False
    decided: int = 0
    retried: bool = False

    @property
    def config(self) -> dict[str, Any]:
        """The trial's parameters as plain values."""
        return {key: value["value"] for key, value in self.params.items()}

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def counts(self) -> bool:
        """Whether the trial counts toward the search (its point was searched; ``run_cap`` counts it): every trial
        but the interrupted (``requeued``) and the retried ones, whose parameters run again in a new trial."""
        return not (self.requeued or self.retried)

    @property
    def scored(self) -> bool:
        """True when the trial measured the sweep metric: finished or stopped, with a value that is not imputed."""
        return self.state in (FINISHED, STOPPED) and self.metric_value is not None and not self.metric_imputed

    @property
    def unscored(self) -> bool:
        """True when the trial finished (or was stopped) but logged its metric only as NaN, ±inf or a non-number
        (a diverged run): no score, its metric imputed as for a crash."""
        return self.state in (FINISHED, STOPPED) and self.metric_imputed

    @property
    def failed(self) -> bool:
        """True when the trial counts toward the search but measured nothing: crashed (not interrupted), or
        unscored."""
        return self.counts and (self.state == CRASHED or self.unscored)


def succeeded(trial: Trial, metric_name: str | None) -> bool:
    """A trial that did what its sweep needs: measured the metric, or (a sweep without one) finished."""
    return trial.scored if metric_name is not None else trial.state in (FINISHED, STOPPED)


def ranked(goal: str, trials: Iterable[Trial]) -> list[Trial]:
    """The scored trials, best first by their metric under ``goal`` (the earliest first on a tie)."""
    return sorted((t for t in trials if t.scored), key=lambda t: (sort_key(goal, t.metric_value or 0.0), t.number))


def best(goal: str, trials: Iterable[Trial]) -> Trial | None:
    """The scored trial with the best metric under ``goal`` (the earliest on a tie), or None."""
    leaders = ranked(goal, trials)
    return leaders[0] if leaders else None
