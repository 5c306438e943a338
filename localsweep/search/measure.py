"""A trial's value for each of the sweep's objectives, read the way W&B's engine reads a run's metric.

W&B takes a run's summary value of the metric, else the best value in its history (``SweepRun.metric_extremum``
under the metric's goal); the per-epoch values in history order are what early termination judges. Only finite
numbers count (``sweeps.run.is_number``): a run that logged its metric only as NaN or ±inf (it diverged), or as
something that is not a number, has no value; W&B's bayes search imputes one for it (``metric.impute``), as for a
crashed run. That is different from a metric never logged at all, which is a misnamed ``metric.name``.
"""

from __future__ import annotations

import math
from typing import Any

from contract.objectives import Objective, objectives
from localsweep.core.trial import Trial
from localsweep.search.wandb_engine import sweep_run, sweeps


def value(objective: Objective, summary: dict[str, Any], history: list[dict[str, Any]]) -> float | None:
    """The objective's summary value, else its best logged value (W&B's extremum), else None. Never NaN or ±inf.

    >>> acc = Objective("acc", "maximize")
    >>> value(acc, {"acc": float("nan")}, [{"acc": 0.5}, {"acc": 0.7}]), value(acc, {}, [{"acc": float("inf")}])
    (0.7, None)
    """
    if sweep_run.is_number(summary.get(objective.name)):
        return float(summary[objective.name])
    try:
        return float(sweeps.SweepRun(history=history).metric_extremum(objective.name, kind=objective.goal))
    except ValueError:
        return None


def values(config: dict[str, Any], trial: Trial) -> list[float | None]:
    """The trial's value for each objective of the sweep, in YAML order."""
    return [value(o, trial.summary, trial.history) for o in objectives(config)]


def logged(name: str, summary: dict[str, Any], history: list[dict[str, Any]]) -> list[Any]:
    """Every value logged under ``name``: the history's in order, then the summary's."""
    return [row[name] for row in history if name in row] + ([summary[name]] if name in summary else [])


def unlogged(config: dict[str, Any], trial: Trial) -> list[str]:
    """The objectives a trial never logged at all (a misnamed ``metric.name``; a diverged one was logged)."""
    return [o.name for o in objectives(config) if not logged(o.name, trial.summary, trial.history)]


def unscored(config: dict[str, Any], summary: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """Why a run has no value for objectives it did log: logged, but never as a finite number; empty when each
    logged objective has a value.

    >>> config = {"metric": {"name": "loss", "goal": "minimize"}}
    >>> unscored(config, {"loss": float("nan")}, [{"loss": float("inf")}, {"loss": float("nan")}])
    'loss was logged only as inf, nan (never a finite number: the run diverged)'
    >>> unscored(config, {}, [{"loss": 0.3}, {"loss": float("nan")}]), unscored(config, {}, [])
    ('', '')
    """
    reasons = []
    for objective in objectives(config):
        seen = logged(objective.name, summary, history)
        if seen and value(objective, summary, history) is None:
            shown = sorted({_shown(v) for v in seen})
            diverged = any(isinstance(v, float) and not math.isfinite(v) for v in seen)
            why = "never a finite number: the run diverged" if diverged else "never a number"
            reasons.append(f"{objective.name} was logged only as {', '.join(shown[:5])} ({why})")
    return "; ".join(reasons)


def _shown(value: Any) -> str:
    text = str(value) if isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def steps(name: str, history: list[dict[str, Any]]) -> list[float]:
    """The metric's logged values in history order, one per step that logged it (what a pruner is reported)."""
    return [float(row[name]) for row in history if sweep_run.is_number(row.get(name))]
