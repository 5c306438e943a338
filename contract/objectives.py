"""What a sweep optimises: its one ``metric``, or its ``metrics:`` list (several objectives, W&B's multi-objective),
each with its goal — and every comparison under a goal, defined here once: which value is better, how a run's
value for an objective is read from what it logged, and which runs no other beats on every objective (the Pareto
front). The engine (``status``, ``best``, the search) and the report both call these.

W&B's schema (sweeps 0.3.0) accepts either ``metric: {name, goal, target}`` or ``metrics: [{name, goal}, ...]`` (at
least two, ``method: custom`` only), never both; ``goal`` defaults to ``minimize``. Everything that needs "the"
sweep metric (the engine's ``metric_value`` column, its table's sort, ``best`` without ``--metric``, the report's
best run, the trainer's restored epoch) uses the *primary* objective: the one ``metric``, or the first of
``metrics``.

Standard library only: the trainer and the report import it without the engine. The value reading and the front
are W&B's engine's (``SweepRun.metric_extremum``) and Optuna's (``Study.best_trials``) rules, restated here because
calling those libraries means a pydantic ``SweepRun`` or a whole Optuna study per question, which ``status``, the
report and a dashboard on a 10,000-trial sweep cannot afford; tests/test_contract_objectives.py checks over random
inputs that both give exactly what those libraries give.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

Goal = Literal["minimize", "maximize"]
OBJECTIVE_VAR = "LOCALSWEEP_OBJECTIVE"
"""How a trial learns what its sweep optimises: the primary objective as JSON (``{"name": ..., "goal": ...}``), set
by the offline engine for every trial (W&B's agent tells a run nothing of the kind)."""
DEFAULT_GOAL: Goal = "minimize"
"""W&B's default ``metric.goal``."""


def better(goal: str, value: float, than: float) -> bool:
    """Whether ``value`` is strictly better than ``than`` under ``goal``.

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


def sort_key(goal: str, value: float) -> float:
    """A key that sorts values best first under ``goal``.

    >>> sorted([0.2, 0.9, 0.5], key=lambda v: sort_key("maximize", v))
    [0.9, 0.5, 0.2]
    """
    return -value if goal == "maximize" else value


def is_number(value: Any) -> bool:
    """Whether a logged value counts as a measurement: a finite real number, not a bool (W&B's engine's rule,
    ``sweeps.run.is_number``, for the values a run logs).

    >>> is_number(0.5), is_number(3), is_number(float("nan")), is_number(True), is_number("0.5"), is_number(None)
    (True, True, False, False, False, False)
    """
    if type(value) is float:  # the usual case first, without the slower abstract-class checks
        return math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(value, int):  # W&B's test is numpy's isfinite, which refuses an int beyond 64 bits
        return -(2**63) <= value < 2**64
    return math.isfinite(value)


@dataclass(frozen=True)
class Objective:
    """One metric to optimise: its logged ``name``, its ``goal`` and, for W&B's ``metric.target``, the value that
    ends the search once a run reaches it."""

    name: str
    goal: Goal = DEFAULT_GOAL
    target: float | None = None

    @classmethod
    def of(cls, metric: Mapping[str, Any]) -> Objective:
        """The objective a sweep's ``metric:`` (or one entry of ``metrics:``) states.

        >>> Objective.of({"name": "val_loss"})
        Objective(name='val_loss', goal='minimize', target=None)
        """
        target = metric.get("target")
        return cls(
            str(metric["name"]), cast(Goal, metric.get("goal", DEFAULT_GOAL)), None if target is None else float(target)
        )

    @property
    def maximize(self) -> bool:
        """True for ``goal: maximize``."""
        return self.goal == "maximize"

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than``."""
        return better(self.goal, value, than)

    def reached(self, value: float | None) -> bool:
        """Whether ``value`` meets the target (False without a target or a value).

        >>> Objective("acc", "maximize", 0.98).reached(0.99), Objective("acc", "maximize").reached(0.99)
        (True, False)
        """
        return value is not None and self.target is not None and reaches(self.goal, value, self.target)

    def sort_key(self, value: float) -> float:
        """A key that sorts values best first."""
        return sort_key(self.goal, value)

    def value(self, summary: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> float | None:
        """A run's value for this objective, read as W&B's engine reads a run's metric: its summary value when that
        is a number (:func:`is_number`), else the best number logged in its history under the goal
        (``SweepRun.metric_extremum``), else None. Never NaN or ±inf.

        >>> acc = Objective("acc", "maximize")
        >>> acc.value({"acc": 0.6}, [{"acc": 0.9}]), acc.value({}, [{"acc": 0.5}, {"acc": 0.7}, {"loss": 1.0}])
        (0.6, 0.7)
        >>> acc.value({"acc": float("nan")}, [{"acc": float("inf")}]), acc.value({}, [])
        (None, None)
        """
        if is_number(summary.get(self.name)):
            return float(summary[self.name])
        logged = [float(row[self.name]) for row in history if is_number(row.get(self.name))]
        if not logged:
            return None
        return max(logged) if self.maximize else min(logged)


def objectives(config: Mapping[str, Any]) -> list[Objective]:
    """The sweep's objectives in YAML order (empty when it has no metric).

    >>> [(o.name, o.goal) for o in objectives({"metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size"}]})]
    [('acc', 'maximize'), ('size', 'minimize')]
    """
    metrics = config.get("metrics") or ([config["metric"]] if config.get("metric") else [])
    return [Objective.of(m) for m in metrics]


def primary(config: Mapping[str, Any]) -> Objective | None:
    """The one metric, or the first of ``metrics:``; None when the sweep has no metric."""
    found = objectives(config)
    return found[0] if found else None


def find(config: Mapping[str, Any], name: str) -> Objective | None:
    """The sweep's objective called ``name``, or None."""
    return next((o for o in objectives(config) if o.name == name), None)


def dominates(goals: Sequence[Objective], a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether values ``a`` beat ``b`` in the Pareto sense: at least as good on every objective and better on one
    (Optuna's dominance; equal values dominate neither way).

    >>> goals = [Objective("acc", "maximize"), Objective("size", "minimize")]
    >>> dominates(goals, [0.9, 10], [0.8, 10]), dominates(goals, [0.9, 10], [0.8, 5]), dominates(goals, [1, 1], [1, 1])
    (True, False, False)
    """
    pairs = list(zip(goals, a, b, strict=True))
    return not any(g.better(y, x) for g, x, y in pairs) and any(g.better(x, y) for g, x, y in pairs)


def pareto_front(goals: Sequence[Objective], rows: Sequence[Sequence[float | None]]) -> list[int]:
    """The positions of the rows on the Pareto front, in order: those with a value for every objective that no
    other such row dominates (:func:`dominates`). Rows with equal values are on it together or off it together.

    The rows are visited best first on the first objective (then the next, ...): a row's dominator comes before it,
    and a dominated dominator has a dominator of its own on the front, so each row is checked against the front
    found so far only.

    >>> goals = [Objective("acc", "maximize"), Objective("size", "minimize")]
    >>> pareto_front(goals, [[0.9, 100], [0.8, 10], [0.7, 50], [0.95, 1000], [0.99, None], [0.8, 10]])
    [0, 1, 3, 5]
    """
    complete = [(i, [float(v) for v in row if v is not None]) for i, row in enumerate(rows) if None not in row]
    order = sorted(complete, key=lambda item: [g.sort_key(v) for g, v in zip(goals, item[1], strict=True)])
    front: list[tuple[int, list[float]]] = []
    for i, values in order:
        if not any(dominates(goals, other, values) for _, other in front):
            front.append((i, values))
    return sorted(i for i, _ in front)


def is_multi_objective(config: Mapping[str, Any]) -> bool:
    """True for a ``metrics:`` list (two or more objectives)."""
    return len(objectives(config)) > 1


def environment(config: Mapping[str, Any]) -> dict[str, str]:
    """What tells a trial of the sweep ``config`` its primary objective (nothing for a sweep without a metric).

    >>> environment({"metric": {"name": "val_loss", "goal": "minimize"}})
    {'LOCALSWEEP_OBJECTIVE': '{"name": "val_loss", "goal": "minimize"}'}
    """
    found = primary(config)
    return {} if found is None else {OBJECTIVE_VAR: json.dumps({"name": found.name, "goal": found.goal})}


def from_environment(environ: Mapping[str, str]) -> Objective | None:
    """The objective :func:`environment` handed this process, or None (not a trial of an offline sweep).

    Raises
    ------
    ValueError
        When the variable is set but is not an objective.
    """
    text = environ.get(OBJECTIVE_VAR)
    if not text:
        return None
    try:
        found = Objective.of(json.loads(text))
    except (ValueError, TypeError, KeyError):
        found = None
    if found is None or found.goal not in ("minimize", "maximize"):
        raise ValueError(
            f'{OBJECTIVE_VAR} must be JSON like {{"name": "val_loss", "goal": "minimize"}}, but got {text!r}; '
            f"unset it or fix it"
        )
    return found
