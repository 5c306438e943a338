"""Bad input, generated: sweep configs and predictions tables either work or are refused with a clear message.

Sweep configs mix valid W&B parameter specs with broken ones; a config ``localsweep`` accepts must get a
suggestion from W&B's engine without an exception. Predictions tables are random (valid and broken); a table the
analysis accepts must give exactly scikit-learn's numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

from analysis.sources.predictions import read_predictions
from analysis.stats.metrics import compute_metrics
from localsweep.search import suggest
from localsweep.search.validate import SweepConfigError, check_sweep_config

# too_slow: Hypothesis times the drawing of each input, and with the tests in parallel processes on two cores a
# draw may wait for the CPU; it is no property of what is tested (nor is the deadline).
FUZZ = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

numbers = st.one_of(st.integers(-5, 50), st.floats(-5, 50, allow_nan=False, width=32))
scalars = st.one_of(numbers, st.booleans(), st.text(max_size=4), st.none())


def _range(distribution: str | None, low: Any, high: Any) -> dict[str, Any]:
    spec = {"min": low, "max": high}
    return spec if distribution is None else {"distribution": distribution, **spec}


valid_specs = st.one_of(
    st.builds(lambda v: {"value": v}, scalars),
    st.builds(lambda v: {"values": v}, st.lists(scalars, min_size=1, max_size=4)),
    st.builds(lambda a, b: {"min": min(a, b), "max": max(a, b) + 1}, st.integers(-9, 9), st.integers(-9, 9)),
    st.builds(lambda a, w: _range("uniform", a, a + w), st.floats(-5, 5), st.floats(0.01, 5)),
    st.builds(lambda a, w: _range("log_uniform_values", a, a * w), st.floats(1e-6, 1), st.floats(1.5, 100)),
    st.builds(lambda a, q: {**_range("q_uniform", 0, a), "q": q}, st.integers(1, 20), st.integers(1, 3)),
    st.builds(lambda m, s: {"distribution": "normal", "mu": m, "sigma": s}, st.floats(-3, 3), st.floats(0.1, 3)),
    st.builds(lambda v: {"distribution": "categorical", "values": v}, st.lists(scalars, min_size=1, max_size=3)),
)
broken_specs = st.one_of(
    st.builds(lambda v: {"values": v}, scalars),  # values must be a list
    st.just({"values": []}),
    st.builds(lambda a: {"min": a + 1, "max": a}, st.integers(-9, 9)),  # min > max
    st.builds(lambda d: {"distribution": d, "min": 0, "max": 1}, st.sampled_from(["gaussian", "loguniform", "", 3])),
    st.builds(lambda v: {"min": v, "max": 1}, st.sampled_from(["a", "1e-5", None, [0]])),
    st.just({"distribution": "log_uniform_values", "min": -1.0, "max": 1.0}),
    st.just({"distribution": "q_uniform", "min": 0, "max": 1, "q": -1}),
    st.just({"distribution": "normal", "mu": 0}),
    st.just({"value": 1, "values": [1, 2]}),
    st.builds(lambda junk: junk, st.one_of(scalars, st.lists(scalars, max_size=2), st.just({}))),
)
specs = st.one_of(valid_specs, valid_specs, broken_specs)
names = st.text("abcdefgxyz_", min_size=1, max_size=6)
metrics = st.one_of(
    st.builds(lambda n, g: {"name": n, "goal": g}, names, st.sampled_from(["maximize", "minimize"])),
    st.builds(lambda n: {"name": n}, names),
    st.sampled_from([{"goal": "maximize"}, {"name": "x", "goal": "maximise"}, {"name": 3}, "val_accuracy", None]),
)
configs = st.fixed_dictionaries(
    {"method": st.sampled_from(["grid", "random", "bayes", "hillclimb", 3])},
    optional={
        "metric": metrics,
        "parameters": st.one_of(
            st.dictionaries(names, specs, min_size=1, max_size=4),
            st.dictionaries(
                names, st.builds(lambda p: {"parameters": p}, st.dictionaries(names, valid_specs)), max_size=2
            ),
            st.sampled_from([{}, [], None, "lr"]),
        ),
        "early_terminate": st.sampled_from(
            [{"type": "hyperband", "min_iter": 3}, {"type": "hyperband"}, {"type": "x"}]
        ),
        "run_cap": st.one_of(st.integers(-1, 5), st.just("ten")),
    },
)


def raised(call: Callable[[], Any], kind: type[Exception]) -> Exception | None:
    """The ``kind`` exception ``call`` raised, or None; any other exception fails the test."""
    try:
        call()
    except kind as error:
        return error
    return None


@FUZZ
@given(config=configs)
def test_sweep_config_is_runnable_or_refused_with_every_reason(config, tmp_path):
    error = raised(lambda: check_sweep_config(config, "fuzz.yaml", pooled=True, workdir=tmp_path), SweepConfigError)
    if isinstance(error, SweepConfigError):
        assert error.violations
        assert all(isinstance(v, str) and v.strip() for v in error.violations)
        assert str(error).startswith(f"fuzz.yaml: {len(error.violations)} problem(s), nothing was run:")
        return
    suggestion = suggest.suggest(config, [], suggest.SearchOptions(seed=0))
    assert suggestion is not None
    assert set(suggestion) == set(config["parameters"])
    if config["method"] == "grid":
        size = suggest.space_size(config)
        assert size is None or size >= 1


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, dict[str, Any] | None]:
    """A predictions CSV and, when it was generated valid, the values written into it."""
    labels = sorted(draw(st.sets(st.integers(-3, 12), min_size=2, max_size=4)))
    n = draw(st.integers(1, 25))
    y_true = draw(st.lists(st.sampled_from(labels), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.sampled_from(labels), min_size=n, max_size=n))
    weights = draw(
        st.lists(st.lists(st.floats(0.01, 1.0), min_size=len(labels), max_size=len(labels)), min_size=n, max_size=n)
    )
    proba = [[w / sum(row) for w in row] for row in weights]
    header = ["index", "y_true", "y_pred", *(f"prob_{label}" for label in labels)]
    rows = [
        [str(i), str(t), str(p), *map(repr, ps)] for i, (t, p, ps) in enumerate(zip(y_true, y_pred, proba, strict=True))
    ]
    fault = draw(st.sampled_from(["none", "none", "none", "drop", "negative", "nan", "label", "float", "empty", "sum"]))
    row, col = draw(st.integers(0, n - 1)), draw(st.integers(3, len(header) - 1))
    if fault == "drop":
        dropped = draw(st.integers(0, len(header) - 1))
        header = header[:dropped] + header[dropped + 1 :]
        rows = [r[:dropped] + r[dropped + 1 :] for r in rows]
    elif fault in ("negative", "nan", "sum"):
        rows[row][col] = {"negative": "-0.5", "nan": "nan", "sum": "0.9999" if proba[row][col - 3] < 0.5 else "0.0"}[
            fault
        ]
    elif fault == "label":
        rows[row][1] = str(max(labels) + 1)
    elif fault == "float":
        rows[row][2] = "1.5"
    elif fault == "empty":
        rows = []
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    valid = fault == "none" or (fault == "sum" and abs(sum(float(c) for c in rows[row][3:]) - 1) <= 1e-3)
    truth = {"labels": labels, "y_true": y_true, "y_pred": y_pred, "proba": np.array(proba)} if valid else None
    return text, truth


@FUZZ
@given(table=tables())
def test_predictions_table_gives_sklearns_metrics_or_a_clear_error(table, tmp_path):
    text, truth = table
    path = tmp_path / "predictions.csv"
    path.write_text(text)
    error = raised(lambda: read_predictions(path), ValueError)
    if error is not None:
        assert truth is None, f"a valid table was refused: {error}"
        assert re.search(r"\b(must|needs?)\b", str(error)), error  # states the rule
        return
    assert truth is not None, "a broken table was accepted"
    predictions = read_predictions(path)
    labels, y_true, y_pred = truth["labels"], truth["y_true"], truth["y_pred"]
    m = compute_metrics(predictions.y_true, predictions.y_pred, predictions.proba, predictions.labels.tolist())
    assert m.labels == labels
    assert m.accuracy == accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(m.confusion, confusion_matrix(y_true, y_pred, labels=labels))
    expected = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=np.nan)
    for ours, theirs in zip((m.precision, m.recall, m.f1, m.support), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    for k, label in enumerate(labels):
        positive = np.array(y_true) == label
        if positive.all() or not positive.any():
            assert math.isnan(m.auroc[k])
        else:
            # Ours counts ranked pairs exactly; scikit-learn sums trapezoids: equal to the last bits (1e-12).
            assert m.auroc[k] == pytest.approx(roc_auc_score(positive, truth["proba"][:, k]), abs=1e-12)
