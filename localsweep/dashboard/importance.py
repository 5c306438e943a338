"""Which parameters mattered for the sweep metric: Optuna's ``get_param_importances`` (fANOVA, seeded) over the
scored trials, each parameter with the distribution the sweep searched it from (``search/custom/space.py``).

A parameter Optuna has no distribution for (W&B's normal, beta, ... families), or whose trials went outside it
(a warm start's prior trials), is taken over what its trials took: the range of a number, else its values.
Imported when a page first asks: Optuna and W&B's engine take seconds to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from localsweep.core.trial import Trial
from localsweep.dashboard.rows import flat

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

MIN_TRIALS = 2
"""Optuna's evaluators need two trials at least, and a parameter that took two values."""


def importances(config: dict[str, Any], goal: str, trials: Sequence[Trial]) -> dict[str, Any]:
    """``{"importances": {name: share}, "trials": n, "note": why there are none}`` for the scored ``trials`` of
    the sweep ``config``; the shares sum to 1, largest first."""
    import optuna

    scored = [(_scalars(flat(t.config)), t.metric_value) for t in trials if t.metric_value is not None]
    names = sorted({name for values, _ in scored for name in values})
    space = _space(config, {name: [values[name] for values, _ in scored if name in values] for name in names})
    if len(scored) < MIN_TRIALS or not space:
        return {"importances": {}, "trials": len(scored), "note": _NOTE}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if goal == "maximize" else "minimize")
    for values, value in scored:
        known = {n: v for n, v in values.items() if n in space}
        study.add_trial(
            optuna.trial.create_trial(params=known, distributions={n: space[n] for n in known}, value=value)
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    shares = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {"importances": {k: float(v) for k, v in shares.items()}, "trials": len(scored), "note": None}


_NOTE = f"needs {MIN_TRIALS} scored trials at least, and a parameter that took two values"


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    """What Optuna takes as a parameter value: None, bool, int, float or str (anything else as its text)."""
    return {k: v if v is None or isinstance(v, bool | int | float | str) else str(v) for k, v in values.items()}


def _space(config: dict[str, Any], seen: dict[str, list[Any]]) -> dict[str, BaseDistribution]:
    """A distribution for each parameter that took two values at least."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from localsweep.search.custom.space import translate

    searched, _ = translate(config.get("parameters") or {})
    space: dict[str, BaseDistribution] = {}
    for name, values in seen.items():
        if len({repr(v) for v in values}) < 2:
            continue
        known = searched.distributions.get(name)
        if known is not None and all(_fits(known, name, v) for v in values):
            space[name] = known
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            space[name] = FloatDistribution(float(min(values)), float(max(values)))
        else:
            space[name] = CategoricalDistribution(sorted(set(values), key=repr))
    return space


def _fits(distribution: BaseDistribution, name: str, value: Any) -> bool:
    import optuna

    try:
        optuna.trial.create_trial(params={name: value}, distributions={name: distribution}, value=0.0)
    except (ValueError, TypeError):
        return False
    return True
