"""What a trial logged of its sweep's objectives, as the search needs it: the objectives it never logged, why a
logged one has no value, and an objective's values step by step (what early termination and a pruner judge).

A trial's one value per objective is read as W&B's engine reads a run's metric (``contract.objectives.Objective.value``:
the summary value, else the best value in its history). Only finite numbers count: a run that logged its metric
only as NaN or ±inf (it diverged), or as something that is not a number, has no value; W&B's bayes search imputes
one for it (``metric.impute``), as for a crashed run. That is different from a metric never logged at all, which is a
misnamed ``metric.name``.
"""

from __future__ import annotations

import math
from typing import Any

from contract.objectives import is_number, objectives
from localsweep.core.trial import Trial


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
        if seen and objective.value(summary, history) is None:
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
    return [float(row[name]) for row in history if is_number(row.get(name))]
