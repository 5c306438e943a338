"""The best trials of a sweep with several objectives: its Pareto front, or the best along one objective.

One definition for the engine's commands (``status``, ``best``) and the report (``python -m analysis``), which
both may import ``localsweep.core``; each trial's values are read by ``contract.objectives.Objective.value`` and
compared by ``contract.objectives.pareto_front``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from contract.objectives import find, objectives, pareto_front
from localsweep.core.trial import FINISHED, STOPPED, Trial, ranked


def values(config: dict[str, Any], trial: Trial) -> list[float | None]:
    """The trial's value for each objective of the sweep ``config``, in YAML order (None: it logged none)."""
    return [o.value(trial.summary, trial.history) for o in objectives(config)]


def front(config: dict[str, Any], trials: Sequence[Trial]) -> list[Trial]:
    """The finished or stopped trials that no other trial beats on every objective, in start order.

    Trials without a value for every objective, and those out of the search (interrupted, retried), are left out.
    """
    candidates = [t for t in trials if t.state in (FINISHED, STOPPED) and t.counts]
    on_front = pareto_front(objectives(config), [values(config, t) for t in candidates])
    return [candidates[i] for i in on_front]


def along(config: dict[str, Any], trials: Sequence[Trial], name: str) -> list[Trial]:
    """The trials scored on the sweep's objective ``name``, best first (the earliest first on a tie), each with its
    value on ``name`` as its ``metric_value``.

    Raises
    ------
    ValueError
        When ``name`` is not one of the sweep's metrics.
    """
    objective = find(config, name)
    if objective is None:
        names = ", ".join(o.name for o in objectives(config)) or "none"
        raise ValueError(f"--metric {name!r} is not a metric of this sweep; it has: {names}")
    return ranked(objective.goal, [replace(t, metric_value=objective.value(t.summary, t.history)) for t in trials])


def best_along(config: dict[str, Any], trials: Sequence[Trial], name: str) -> Trial | None:
    """The best trial by the sweep's objective ``name`` alone (the earliest on a tie), None when none measured it.

    Raises
    ------
    ValueError
        When ``name`` is not one of the sweep's metrics.
    """
    leaders = along(config, trials, name)
    return leaders[0] if leaders else None
