"""Which hyperparameters mattered for the sweep metric, as W&B's parameter-importance panel shows it.

W&B's panel fits a random forest with the hyperparameters as inputs and the metric as target and shows its
feature importances, next to each parameter's linear correlation with the metric. Here: scikit-learn's
``RandomForestRegressor`` (impurity-based importances, seeded) and scipy's Pearson correlation. Categorical
parameters are one-hot encoded (one feature per value, ``optimizer=adam``), as in W&B's panel; booleans are 0/1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import ConstantInputWarning, pearsonr
from sklearn.ensemble import RandomForestRegressor

MIN_TRIALS = 3
TREES = 100


@dataclass(frozen=True)
class Importance:
    """Per feature: random-forest importance (they sum to 1) and correlation with the metric (``nan`` when the
    feature or the metric is constant over the trials)."""

    metric_name: str
    features: list[str]
    importance: np.ndarray
    correlation: np.ndarray
    n_trials: int


def encode(configs: list[dict[str, Any]], parameters: list[str]) -> tuple[list[str], np.ndarray]:
    """Feature names and the trials x features matrix: numbers as they are, anything else one-hot.

    Examples
    --------
    >>> names, x = encode([{"lr": 0.1, "opt": "adam"}, {"lr": 0.01, "opt": "sgd"}], ["lr", "opt"])
    >>> names, x.tolist()
    (['lr', 'opt=adam', 'opt=sgd'], [[0.1, 1.0, 0.0], [0.01, 0.0, 1.0]])
    """
    names: list[str] = []
    columns: list[np.ndarray] = []
    for name in parameters:
        values = [config.get(name) for config in configs]
        if all(isinstance(v, int | float) for v in values):
            names.append(name)
            columns.append(np.asarray(values, dtype=float))
            continue
        for level in sorted({str(v) for v in values}):
            names.append(f"{name}={level}")
            columns.append(np.array([str(v) == level for v in values], dtype=float))
    return names, np.column_stack(columns)


def importance(
    configs: list[dict[str, Any]], metric: list[float], metric_name: str, parameters: list[str], seed: int = 0
) -> Importance:
    """Random-forest importance and correlation of each swept parameter for the sweep metric.

    Raises
    ------
    ValueError
        With fewer than ``MIN_TRIALS`` scored trials or no swept parameter (nothing to learn from).

    Examples
    --------
    >>> configs = [{"units": u, "lr": lr} for u in (16, 32, 64) for lr in (0.1, 0.01)]
    >>> metric = [0.9 + 0.01 * c["units"] / 16 for c in configs]  # only units matters
    >>> result = importance(configs, metric, "acc", ["units", "lr"])
    >>> result.features, result.features[int(result.importance.argmax())], round(float(result.correlation[0]), 2)
    (['units', 'lr'], 'units', 1.0)
    """
    if len(configs) < MIN_TRIALS or not parameters:
        raise ValueError(
            f"parameter importance needs at least {MIN_TRIALS} scored trials and a swept parameter, but got "
            f"{len(configs)} trials and parameters {parameters}; fix: run more trials"
        )
    names, x = encode(configs, parameters)
    y = np.asarray(metric, dtype=float)
    forest = RandomForestRegressor(n_estimators=TREES, random_state=seed).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)  # constant feature: nan, shown as undefined
        correlation = np.array([pearsonr(column, y).statistic for column in x.T])
    return Importance(metric_name, names, forest.feature_importances_, correlation, len(configs))
