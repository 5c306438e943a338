"""analysis.stats.thresholds: the precision/recall trade-off of one class, on literal arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from analysis.stats import thresholds
from analysis.stats.ranking import rank
from analysis.stats.thresholds import analyse_thresholds

IS_POSITIVE = np.array([0, 0, 1, 1, 0, 1, 1, 0]) == 1
SCORE = np.array([0.1, 0.4, 0.35, 0.8, 0.65, 0.9, 0.2, 0.5])


def test_analyse_thresholds_curve_is_sklearns():
    t = analyse_thresholds(rank(IS_POSITIVE, SCORE), 1)
    precision, recall, thresholds = precision_recall_curve(IS_POSITIVE, SCORE)
    np.testing.assert_array_equal(t.thresholds, thresholds)
    np.testing.assert_array_equal(t.precision, precision[:-1])
    np.testing.assert_array_equal(t.recall, recall[:-1])


def test_analyse_thresholds_best_f1_known_answer():
    # At 0.2 all 4 positives are caught among 7 predicted: F1 = 8/11, the best.
    t = analyse_thresholds(rank(IS_POSITIVE, SCORE), 1)
    assert vars(t.best_f1) == pytest.approx(
        {"threshold": 0.2, "precision": 4 / 7, "recall": 1.0, "f1": 8 / 11}, abs=1e-12
    )


def test_analyse_thresholds_target_precision_takes_the_lowest_threshold_reaching_it():
    t = analyse_thresholds(rank(IS_POSITIVE, SCORE), 1, target_precision=0.6)
    assert vars(t.for_precision) == pytest.approx(
        {"threshold": 0.65, "precision": 2 / 3, "recall": 0.5, "f1": 4 / 7}, abs=1e-12
    )


def test_analyse_thresholds_target_recall_takes_the_highest_threshold_reaching_it():
    t = analyse_thresholds(rank(IS_POSITIVE, SCORE), 1, target_recall=0.75)
    # At 0.35: 6 predicted, 3 of them positive.
    assert vars(t.for_recall) == pytest.approx(
        {"threshold": 0.35, "precision": 0.5, "recall": 0.75, "f1": 0.6}, abs=1e-12
    )


def test_analyse_thresholds_unreachable_precision_is_none_with_reason():
    t = analyse_thresholds(rank(np.array([True, False]), np.array([0.2, 0.9])), 1, target_precision=0.99)
    assert t.for_precision is None
    assert t.reasons == {"for_precision": "no threshold reaches precision 0.99"}


def test_analyse_thresholds_absent_class_is_undefined():
    t = analyse_thresholds(rank(np.array([False, False]), np.array([0.2, 0.9])), 4, target_recall=0.5)
    assert (t.best_f1, t.for_recall) == (None, None)
    assert t.reasons["best_f1"] == "class 4 is absent from y_true: recall is undefined"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"target_precision": 0.0}, "0 < target_precision <= 1"), ({"target_recall": 1.5}, r"target_recall=1\.5")],
)
def test_analyse_thresholds_rejects_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        analyse_thresholds(rank(IS_POSITIVE, SCORE), 1, **kwargs)


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_analyse_thresholds_in_chunks_finds_sklearns_operating_points(monkeypatch, chunk):
    monkeypatch.setattr(thresholds, "_CHUNK", chunk)
    rng = np.random.default_rng(4)
    is_positive = rng.random(3000) < 0.3
    score = np.round(np.where(is_positive, rng.beta(4, 2, 3000), rng.beta(2, 4, 3000)), 3)
    t = analyse_thresholds(rank(is_positive, score), 1, target_precision=0.8)
    precision, recall, cut = precision_recall_curve(is_positive, score)
    precision, recall = precision[:-1], recall[:-1]
    f1 = 2 * precision * recall / (precision + recall)
    best = int(np.argmax(f1))
    assert vars(t.best_f1) == pytest.approx(
        {"threshold": cut[best], "precision": precision[best], "recall": recall[best], "f1": f1[best]}, abs=1e-12
    )
    assert t.for_precision is not None
    assert t.for_precision.threshold == cut[np.flatnonzero(precision >= 0.8)[0]]
    recalled = analyse_thresholds(rank(is_positive, score), 1, target_recall=0.9).for_recall
    assert recalled is not None
    assert recalled.threshold == cut[np.flatnonzero(recall >= 0.9)[-1]]
    assert t.thresholds.size == min(1000, cut.size)
    assert set(t.thresholds.tolist()) <= set(cut.tolist())
    assert (t.thresholds[0], t.thresholds[-1]) == (cut[0], cut[-1])
