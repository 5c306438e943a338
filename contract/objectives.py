"""What a sweep optimises: its one ``metric``, or its ``metrics:`` list (several objectives, W&B's multi-objective).

W&B's schema (sweeps 0.3.0) accepts either ``metric: {name, goal}`` or ``metrics: [{name, goal}, ...]`` (at least two,
``method: custom`` only), never both. Everything that needs "the" sweep metric (the ``metric_value`` column, the
table's sort, ``best`` without ``--metric``, the analysis report) uses the *primary* objective: the one ``metric``,
or the first of ``metrics``. Pure code: no storage, no engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

Goal = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Objective:
    """One metric to optimise: its logged ``name`` and its ``goal`` (``maximize`` or ``minimize``)."""

    name: str
    goal: Goal


def objectives(config: dict[str, Any]) -> list[Objective]:
    """The sweep's objectives in YAML order (empty when it has no metric); ``goal`` defaults to ``minimize`` as in W&B.

    >>> objectives({"metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size"}]})
    [Objective(name='acc', goal='maximize'), Objective(name='size', goal='minimize')]
    """
    metrics = config.get("metrics") or ([config["metric"]] if config.get("metric") else [])
    return [Objective(m["name"], cast(Goal, m.get("goal", "minimize"))) for m in metrics]


def primary(config: dict[str, Any]) -> Objective | None:
    """The one metric, or the first of ``metrics:``; None when the sweep has no metric."""
    found = objectives(config)
    return found[0] if found else None


def is_multi_objective(config: dict[str, Any]) -> bool:
    """True for a ``metrics:`` list (two or more objectives)."""
    return len(objectives(config)) > 1
