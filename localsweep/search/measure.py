"""A trial's value for each of the sweep's objectives, read the way W&B's engine reads a run's metric.

W&B takes a run's summary value of the metric, else the best value in its history (``SweepRun.metric_extremum``
under the metric's goal); the per-epoch values in history order are what early termination judges.
"""

from __future__ import annotations

from typing import Any

from contract.objectives import Objective, objectives
from localsweep.core.trial import Trial
from localsweep.search.wandb_engine import sweep_run, sweeps


def value(objective: Objective, summary: dict[str, Any], history: list[dict[str, Any]]) -> float | None:
    """The objective's summary value, else its best logged value (W&B's extremum), else None."""
    if sweep_run.is_number(summary.get(objective.name)):
        return float(summary[objective.name])
    try:
        return float(sweeps.SweepRun(history=history).metric_extremum(objective.name, kind=objective.goal))
    except ValueError:
        return None


def values(config: dict[str, Any], trial: Trial) -> list[float | None]:
    """The trial's value for each objective of the sweep, in YAML order."""
    return [value(o, trial.summary, trial.history) for o in objectives(config)]


def unlogged(config: dict[str, Any], trial: Trial) -> list[str]:
    """The objectives a trial has no value for (it never logged them)."""
    return [o.name for o, v in zip(objectives(config), values(config, trial), strict=True) if v is None]


def steps(name: str, history: list[dict[str, Any]]) -> list[float]:
    """The metric's logged values in history order, one per step that logged it (what a pruner is reported)."""
    return [float(row[name]) for row in history if sweep_run.is_number(row.get(name))]
