"""analysis.stats.bootstrap: each resample's metrics equal scikit-learn's on the rows it drew (1e-12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from analysis.pipeline import bootstrap_plan
from analysis.stats import bootstrap
from analysis.stats.bootstrap import FPR_GRID, RECALL_GRID, replicates, resample_indices, uncertainty

N_CLASSES = 4


def _tied_predictions(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, N_CLASSES, n)
    logits = rng.normal(size=(n, N_CLASSES))
    logits[np.arange(n), y_true] += 1.0
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)  # ties everywhere
    proba[:, 0] = 1 - proba[:, 1:].sum(axis=1)
    return y_true, proba.argmax(axis=1), proba


def _drawn_rows(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.concatenate(list(resample_indices(n, resamples, seed)))


def test_each_resample_equals_sklearn_on_the_drawn_rows():
    y_true, y_pred, proba = _tied_predictions(300)
    result = replicates(y_true, y_pred, proba, resamples=6, seed=3)
    labels = list(range(N_CLASSES))
    for b, rows in enumerate(_drawn_rows(300, 6, 3)):
        y, pred, p = y_true[rows], y_pred[rows], proba[rows]
        expected = {
            "accuracy": accuracy_score(y, pred),
            "auroc_macro": roc_auc_score(y, p, multi_class="ovr", labels=labels),
            "auroc_micro": roc_auc_score(y, p, multi_class="ovr", average="micro", labels=labels),
            "average_precision_macro": np.mean([average_precision_score(y == k, p[:, k]) for k in labels]),
        }
        for average in ("macro", "micro"):
            scores = precision_recall_fscore_support(y, pred, labels=labels, average=average, zero_division=np.nan)
            expected |= {f"{name}_{average}": v for name, v in zip(("precision", "recall", "f1"), scores, strict=False)}
        assert set(expected) == set(bootstrap.SCALARS)
        for name, value in expected.items():
            assert result.scalars[name][b] == pytest.approx(value, abs=1e-12), name
        per_class = precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
        for name, values in zip(("precision", "recall", "f1"), per_class, strict=False):
            np.testing.assert_allclose(result.per_class[name][b], values, atol=1e-12)
        np.testing.assert_allclose(
            result.per_class["auroc"][b], [roc_auc_score(y == k, p[:, k]) for k in labels], atol=1e-12
        )


def test_bands_equal_sklearns_curves_on_the_drawn_rows():
    y_true, y_pred, proba = _tied_predictions(200, seed=1)
    result = replicates(y_true, y_pred, proba, resamples=4, seed=1)
    assert result.roc_tpr is not None
    assert result.pr_precision is not None
    for b, rows in enumerate(_drawn_rows(200, 4, 1)):
        for k in range(N_CLASSES):
            is_positive, score = y_true[rows] == k, proba[rows, k]
            fpr, tpr, _ = roc_curve(is_positive, score, drop_intermediate=False)
            # The ROC curve joins its points by straight lines (as the AUROC's trapezoids).
            np.testing.assert_allclose(result.roc_tpr[b, k], np.interp(FPR_GRID, fpr, tpr), atol=1e-12)
            precision, recall, _ = precision_recall_curve(is_positive, score)
            # The precision at the highest threshold whose recall reaches each grid value.
            expected = [precision[np.flatnonzero(recall[:-1] >= r).max()] for r in RECALL_GRID]
            np.testing.assert_allclose(result.pr_precision[b, k], expected, atol=1e-12)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others():
    y_true, y_pred, proba = _tied_predictions(300)
    first = uncertainty(replicates(y_true, y_pred, proba, resamples=50, seed=0, curves=False))
    again = uncertainty(replicates(y_true, y_pred, proba, resamples=50, seed=0, curves=False))
    other = uncertainty(replicates(y_true, y_pred, proba, resamples=50, seed=1, curves=False))
    assert first.intervals == again.intervals
    assert first.intervals != other.intervals
    low, high = first.intervals["accuracy"]
    assert low < accuracy_score(y_true, y_pred) < high
    assert first.method.startswith("percentile bootstrap, 50 resamples")


def test_a_class_missing_from_a_resample_is_counted_not_hidden():
    # Class 1 has one row: most resamples of 6 rows lack it, and its recall is undefined there.
    y_true = np.array([0, 0, 0, 0, 0, 1])
    proba = np.array([[0.9, 0.1]] * 5 + [[0.2, 0.8]])
    result = replicates(y_true, proba.argmax(axis=1), proba, resamples=40, seed=0, curves=False)
    missing = int(sum(not (y_true[rows] == 1).any() for rows in _drawn_rows(6, 40, 0)))
    assert 0 < missing < 40
    assert int(np.isnan(result.per_class["recall"][:, 1]).sum()) == missing
    u = uncertainty(result)
    assert u.undefined["auroc_macro"] == (
        f"undefined in {missing} of 40 resamples; the interval uses the other {40 - missing}"
    )


def test_replicates_rejects_no_resamples():
    y_true, y_pred, proba = _tied_predictions(10)
    with pytest.raises(ValueError, match=r"`resamples >= 1` must hold, but got resamples=0"):
        replicates(y_true, y_pred, proba, resamples=0)


@pytest.mark.parametrize(
    ("rows", "requested", "expected"),
    [
        (10_000, None, 1000),
        (20_000, None, 1000),
        (40_000, None, 500),
        (100_000, None, 200),
        (100_001, None, 0),
        (1_000_000, 50, 50),
        (10, 0, 0),
    ],
)
def test_bootstrap_plan_fits_the_budget_unless_asked(rows, requested, expected):
    count, note = bootstrap_plan(rows, requested)
    assert count == expected
    # A note whenever the count is not simply what was asked (or the default): fewer, or none.
    assert (note == "") == (expected == (requested or 1000))


def test_bootstrap_plan_rejects_negative_resamples():
    with pytest.raises(ValueError, match=r"`--resamples >= 0` must hold, but got -1"):
        bootstrap_plan(10, -1)


@pytest.mark.parametrize(
    ("y_true", "n_classes"),
    [
        (np.array([3]), 10),  # one row: nine classes absent, class 3 has no negatives
        (np.array([1, 4, 4, 7, 9]), 10),  # five rows of ten classes
        (np.zeros(12, dtype=np.int64), 2),  # binary, class 1 absent
        (np.ones(12, dtype=np.int64), 2),  # binary, class 0 absent
    ],
)
def test_a_class_absent_from_y_true_is_undefined_in_every_resample(y_true, n_classes):
    proba = np.random.default_rng(2).dirichlet(np.ones(n_classes), size=y_true.size)
    result = replicates(y_true, proba.argmax(axis=1), proba, resamples=8, seed=0)
    absent = np.setdiff1d(np.arange(n_classes), y_true)
    for name in ("recall", "auroc", "average_precision"):
        assert np.isnan(result.per_class[name][:, absent]).all(), name
    assert np.isnan(result.scalars["auroc_macro"]).all()
    assert result.roc_tpr is not None
    assert np.isnan(result.roc_tpr[:, absent]).all()
    for b, rows in enumerate(_drawn_rows(y_true.size, 8, 0)):
        y, pred = y_true[rows], proba[rows].argmax(axis=1)
        assert result.scalars["accuracy"][b] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
        for k in range(n_classes):
            is_positive = y == k
            if is_positive.any() and not is_positive.all():
                expected = roc_auc_score(is_positive, proba[rows, k])
                assert result.per_class["auroc"][b, k] == pytest.approx(expected, abs=1e-12)


def test_intervals_equal_numpys_nanquantile_with_undefined_resamples():
    # numpy's nanquantile loops over the 18,100 slices in Python; ours is vectorised. How much faster is a
    # benchmark's question, not a test's: here, only that the numbers are numpy's to the bit.
    rng = np.random.default_rng(4)
    values = np.round(rng.random((1000, 100, 181)), 2)  # bands of 100 classes, 1000 resamples, with ties
    values[rng.random(values.shape) < 0.3] = np.nan  # classes absent from many resamples
    values[:, 3] = np.nan  # a class absent from y_true: undefined in every resample
    values[1:, 5] = np.nan  # defined once
    ours = bootstrap._interval(values, 0.95)
    tail = (1 - 0.95) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-nan class
        expected = np.nanquantile(values, [tail, 1 - tail], axis=0)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(
        bootstrap._interval(values[:, 0, 0], 0.5), np.nanquantile(values[:, 0, 0], [0.25, 0.75])
    )
