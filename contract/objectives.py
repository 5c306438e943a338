"""What a sweep optimises: its one ``metric``, or its ``metrics:`` list (several objectives, W&B's multi-objective),
each with its goal — and every comparison under a goal, defined here once.

W&B's schema (sweeps 0.3.0) accepts either ``metric: {name, goal, target}`` or ``metrics: [{name, goal}, ...]`` (at
least two, ``method: custom`` only), never both; ``goal`` defaults to ``minimize``. Everything that needs "the"
sweep metric (the engine's ``metric_value`` column, its table's sort, ``best`` without ``--metric``, the report's
best run, the trainer's restored epoch) uses the *primary* objective: the one ``metric``, or the first of
``metrics``. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
