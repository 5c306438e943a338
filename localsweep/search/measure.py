"""What a trial logged of its sweep's objectives, as the search needs it: the objectives it never logged, and an
objective's values step by step (what early termination and a pruner judge).

A trial's one value per objective is read as W&B's engine reads a run's metric: its summary value, else the best
value in its history (``contract.objectives.Objective.value``; per trial: ``localsweep.core.pareto.values``).
"""

from __future__ import annotations

from typing import Any

from contract.objectives import is_number, objectives
from localsweep.core import pareto
from localsweep.core.trial import Trial


def unlogged(config: dict[str, Any], trial: Trial) -> list[str]:
    """The objectives a trial has no value for (it never logged them)."""
    return [o.name for o, v in zip(objectives(config), pareto.values(config, trial), strict=True) if v is None]


def steps(name: str, history: list[dict[str, Any]]) -> list[float]:
    """The metric's logged values in history order, one per step that logged it (what a pruner is reported)."""
    return [float(row[name]) for row in history if is_number(row.get(name))]
