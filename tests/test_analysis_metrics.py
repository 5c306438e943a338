"""Known answers for analysis.stats.metrics: literal arrays, scikit-learn's own functions as the reference (1e-12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from analysis.stats.metrics import compute_metrics, default_positive_class, thin

# Three classes, eight examples, with a tie in prob_1 (0.3 twice) and one class-2 example predicted as 1.
Y3 = np.array([0, 0, 0, 1, 1, 1, 2, 2])
P3 = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.5, 0.3, 0.2],
        [0.4, 0.3, 0.3],
        [0.2, 0.6, 0.2],
        [0.1, 0.8, 0.1],
        [0.5, 0.4, 0.1],
        [0.1, 0.2, 0.7],
        [0.2, 0.5, 0.3],
    ]
)
PRED3 = P3.argmax(axis=1)


def test_compute_metrics_binary_known_answers():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    proba = np.column_stack([1 - scores, scores])
    y_true = np.array([0, 0, 1, 1])
    m = compute_metrics(y_true, proba.argmax(axis=1), proba, [0, 1])
    assert m.auroc.tolist() == [0.75, 0.75]
    assert m.confusion.tolist() == [[2, 0], [1, 1]]
    assert m.accuracy == 0.75
    assert m.precision.tolist() == [2 / 3, 1.0]
    assert m.recall.tolist() == [1.0, 0.5]
    assert m.average_precision[1] == pytest.approx(average_precision_score(y_true, scores), abs=1e-12)
    assert m.average_precision[1] == pytest.approx(0.8333333333333333, abs=1e-12)
    assert m.undefined == {}


def test_compute_metrics_multiclass_matches_sklearn():
    m = compute_metrics(Y3, PRED3, P3, [0, 1, 2])
    assert m.confusion.tolist() == confusion_matrix(Y3, PRED3).tolist() == [[3, 0, 0], [1, 2, 0], [0, 1, 1]]
    assert m.accuracy == accuracy_score(Y3, PRED3) == 0.75
    np.testing.assert_allclose(m.auroc, roc_auc_score(Y3, P3, multi_class="ovr", average=None), atol=1e-12)
    assert m.auroc_macro == pytest.approx(roc_auc_score(Y3, P3, multi_class="ovr"), abs=1e-12)
    assert m.auroc_micro == pytest.approx(roc_auc_score(Y3, P3, multi_class="ovr", average="micro"), abs=1e-12)
    expected_ap = [average_precision_score(np.equal(Y3, k), P3[:, k]) for k in range(3)]
    np.testing.assert_allclose(m.average_precision, expected_ap, atol=1e-12)
    assert m.average_precision_macro == pytest.approx(average_precision_score(np.eye(3)[Y3], P3), abs=1e-12)
    precision, recall, f1, support = precision_recall_fscore_support(Y3, PRED3)
    np.testing.assert_allclose(np.stack([m.precision, m.recall, m.f1]), np.stack([precision, recall, f1]), atol=1e-12)
    assert m.support.tolist() == support.tolist() == [3, 3, 2]
    for average in ("macro", "micro", "weighted"):
        expected = precision_recall_fscore_support(Y3, PRED3, average=average)[:3]
        assert list(m.averages[average].values()) == pytest.approx(list(expected), abs=1e-12)
    np.testing.assert_allclose(m.confusion_normalized.sum(axis=1), 1.0, atol=1e-12)


def test_compute_metrics_matches_sklearn_on_tied_random_scores():
    rng = np.random.default_rng(7)
    proba = np.round(rng.dirichlet(np.ones(4), size=500), 2)  # coarse values: many ties
    proba /= proba.sum(axis=1, keepdims=True)
    y_true = rng.integers(0, 4, size=500)
    m = compute_metrics(y_true, proba.argmax(axis=1), proba, [0, 1, 2, 3])
    assert m.auroc_macro == pytest.approx(roc_auc_score(y_true, proba, multi_class="ovr"), abs=1e-12)
    assert m.auroc_micro == pytest.approx(roc_auc_score(y_true, proba, multi_class="ovr", average="micro"), abs=1e-12)


def test_compute_metrics_absent_class_is_undefined_with_reason():
    y_true, y_pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every undefined case is handled, none leaks a warning
        m = compute_metrics(y_true, y_pred, proba, [0, 1, 2])
    assert np.isnan([m.precision[2], m.recall[2], m.f1[2], m.auroc[2], m.average_precision[2]]).all()
    assert np.isnan(m.confusion_normalized[2]).all()
    assert np.isnan(m.auroc_macro)
    assert m.undefined["recall[2]"] == "class 2 is absent from y_true (support 0)"
    assert m.undefined["average_precision[2]"] == "class 2 is absent from y_true (support 0)"
    assert m.undefined["precision[2]"] == "class 2 is never predicted (no predicted positives)"
    assert "auroc_macro" in m.undefined
    # The macro average skips the undefined class (scikit-learn's zero_division=nan), and says so.
    assert m.averages["macro"]["recall"] == pytest.approx((0.5 + 1.0) / 2, abs=1e-12)
    assert "macro recall averages only the classes where it is defined (not [2])" in m.notes
    assert m.auroc_micro == pytest.approx(
        roc_auc_score(y_true, proba, multi_class="ovr", average="micro", labels=[0, 1, 2])
    )


def test_compute_metrics_never_predicted_class_has_undefined_precision_not_zero():
    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([0, 0, 0, 0])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.8, 0.2]])
    m = compute_metrics(y_true, y_pred, proba, [0, 1])
    assert np.isnan(m.precision[1])
    assert m.recall[1] == 0.0
    assert m.undefined == {"precision[1]": "class 1 is never predicted (no predicted positives)"}


def test_compute_metrics_single_class_present_has_undefined_auroc():
    proba = np.array([[0.9, 0.1], [0.6, 0.4]])
    m = compute_metrics(np.array([0, 0]), np.array([0, 0]), proba, [0, 1])
    assert np.isnan(m.auroc).all()
    assert m.undefined["auroc[0]"] == "every example is class 0: no negatives"
    assert m.undefined["auroc[1]"] == "class 1 is absent from y_true (support 0)"


def test_thin_keeps_the_ends_and_at_most_the_limit():
    x = np.linspace(0, 1, 5000)
    curve = thin(x, x**2)
    assert curve.x.shape == (1000,)
    assert (curve.x[0], curve.x[-1], curve.y[-1]) == (0.0, 1.0, 1.0)


def test_compute_metrics_curves_are_thinned_exact_points_of_sklearns():
    rng = np.random.default_rng(3)
    proba = rng.dirichlet(np.ones(3), size=3000)
    y_true = rng.integers(0, 3, size=3000)
    m = compute_metrics(y_true, proba.argmax(axis=1), proba, [0, 1, 2])
    for k in range(3):
        fpr, tpr, _ = roc_curve(y_true == k, proba[:, k], drop_intermediate=False)
        roc_points = set(zip(fpr.tolist(), tpr.tolist(), strict=True))
        assert m.roc_curves[k].x.size <= 1000
        assert set(zip(m.roc_curves[k].x.tolist(), m.roc_curves[k].y.tolist(), strict=True)) <= roc_points
        assert (m.roc_curves[k].x[[0, -1]].tolist(), m.roc_curves[k].y[[0, -1]].tolist()) == ([0.0, 1.0], [0.0, 1.0])
        precision, recall, _ = precision_recall_curve(y_true == k, proba[:, k])
        pr_points = set(zip(recall.tolist(), precision.tolist(), strict=True))
        assert set(zip(m.pr_curves[k].x.tolist(), m.pr_curves[k].y.tolist(), strict=True)) <= pr_points


@pytest.mark.parametrize(
    ("positive_class", "expected"),
    [(None, 1), (0, 0)],  # default: the lowest F1 (classes 1 and 2 tie at 2/3: the first)
)
def test_compute_metrics_keeps_the_positive_class_sorted_scores(positive_class, expected):
    m = compute_metrics(Y3, PRED3, P3, [0, 1, 2], positive_class)
    assert m.positive_class == expected
    assert m.positive.positive.tolist() == sorted(P3[np.equal(Y3, expected), expected].tolist())
    assert m.positive.negative.tolist() == sorted(P3[np.not_equal(Y3, expected), expected].tolist())


def test_compute_metrics_rejects_an_unknown_positive_class():
    with pytest.raises(ValueError, match=r"positive class must be one of the classes \[0, 1, 2\], but got 7"):
        compute_metrics(Y3, PRED3, P3, [0, 1, 2], 7)


def test_default_positive_class_binary_is_the_larger_label():
    assert default_positive_class([3, 8], np.array([0.1, 0.9])) == 8
