"""The best trials of a sweep with several objectives: its Pareto front, or the best along one objective."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import optuna

from contract.objectives import objectives
from localsweep.core.trial import FINISHED, STOPPED, Trial, best
from localsweep.search import measure
from localsweep.search.custom.study import STUDY_NAME


def front(config: dict[str, Any], trials: Sequence[Trial]) -> list[Trial]:
    """The finished or stopped trials that no other trial beats on every objective, in start order.

    Dominance is Optuna's (``Study.best_trials`` of a study holding each trial's objective values); trials without a
    value for every objective are left out.
    """
    goals = objectives(config)
    scored = [
        (t, [v for v in values if v is not None])
        for t in trials
        if t.state in (FINISHED, STOPPED) and t.counts
        for values in [measure.values(config, t)]
        if None not in values
    ]
    study = optuna.create_study(study_name=STUDY_NAME, directions=[g.goal for g in goals])
    study.add_trials(optuna.trial.create_trial(values=values, params={}, distributions={}) for _, values in scored)
    on_front = {t.number for t in study.best_trials}
    return [t for i, (t, _) in enumerate(scored) if i in on_front]


def best_along(config: dict[str, Any], trials: Sequence[Trial], name: str) -> Trial | None:
    """The best trial by the sweep's objective ``name`` alone (the earliest on a tie), None when none measured it.

    Raises
    ------
    ValueError
        When ``name`` is not one of the sweep's metrics.
    """
    goals = {o.name: o for o in objectives(config)}
    if name not in goals:
        raise ValueError(f"--metric {name!r} is not a metric of this sweep; it has: {', '.join(goals) or 'none'}")
    objective = goals[name]
    along = [replace(t, metric_value=measure.value(objective, t.summary, t.history)) for t in trials]
    return best(objective.goal, [t for t in along if t.metric_value is not None])
