"""analysis.stats.importance: the parameter that drives the metric gets the importance and the correlation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import pearsonr

from analysis.stats.importance import encode, importance


def _trials(seed: int = 0) -> tuple[list[dict[str, Any]], list[float]]:
    rng = np.random.default_rng(seed)
    configs: list[dict[str, Any]] = [
        {
            "learning_rate": float(rng.choice([1e-4, 1e-3, 1e-2])),
            "units": int(rng.choice([16, 64, 256])),
            "optimizer": str(rng.choice(["adam", "sgd"])),
            "dropout_rate": 0.2,  # fixed: no information
        }
        for _ in range(30)
    ]
    # The metric falls with the learning rate and is better with adam; units do not matter.
    metric = [0.99 - 5 * c["learning_rate"] - (0.03 if c["optimizer"] == "sgd" else 0.0) for c in configs]
    return configs, metric


def test_importance_ranks_the_parameters_that_drive_the_metric():
    configs, metric = _trials()
    result = importance(configs, metric, "val_accuracy", ["learning_rate", "units", "optimizer", "dropout_rate"])
    assert result.features == [
        "learning_rate",
        "units",
        "optimizer=adam",
        "optimizer=sgd",
        "dropout_rate",
    ]
    assert result.importance.sum() == pytest.approx(1.0)
    by_name = dict(zip(result.features, result.importance, strict=True))
    assert by_name["learning_rate"] > 0.5
    assert by_name["units"] < 0.05
    assert by_name["dropout_rate"] == 0.0
    correlation = dict(zip(result.features, result.correlation, strict=True))
    lr = [c["learning_rate"] for c in configs]
    assert correlation["learning_rate"] == pytest.approx(pearsonr(lr, metric).statistic, abs=1e-12)
    assert correlation["learning_rate"] < 0 < correlation["optimizer=adam"]
    assert np.isnan(correlation["dropout_rate"])  # constant: undefined, not 0
    assert result.n_trials == 30


def test_encode_one_hot_for_categorical_and_booleans_as_numbers():
    names, x = encode([{"a": True, "b": None}, {"a": False, "b": "x"}], ["a", "b"])
    assert names == ["a", "b=None", "b=x"]
    assert x.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


@pytest.mark.parametrize(("configs", "parameters"), [([{"a": 1}, {"a": 2}], ["a"]), ([{"a": 1}] * 5, [])])
def test_importance_needs_three_trials_and_a_parameter(configs, parameters):
    with pytest.raises(ValueError, match=r"needs at least 3 scored trials and a swept parameter"):
        importance(configs, [0.5] * len(configs), "acc", parameters)
