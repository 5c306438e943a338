"""analysis.stats.ranking: one sort per class gives scikit-learn's curves and areas (ties, absent classes, micro)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from analysis.stats import ranking
from analysis.stats.metrics import compute_metrics
from analysis.stats.ranking import rank


def _tied_problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    is_positive = rng.random(n) < rng.uniform(0.05, 0.95)
    score = np.round(rng.random(n), int(rng.integers(1, 4)))  # 1-3 decimals: from many ties to few
    return is_positive, score


@pytest.mark.parametrize("seed", range(40))
def test_curves_and_areas_equal_sklearns_with_ties(seed):
    is_positive, score = _tied_problem(seed)
    ranked = rank(is_positive, score)
    if ranked.defined:
        assert ranking.auroc(ranked) == pytest.approx(roc_auc_score(is_positive, score), abs=1e-12)
        for ours, theirs in zip(
            ranking.roc_curve(ranked), roc_curve(is_positive, score, drop_intermediate=False), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    if is_positive.any():
        ap = average_precision_score(is_positive, score)
        assert ranking.average_precision(ranked) == pytest.approx(ap, abs=1e-12)
        for ours, theirs in zip(
            ranking.precision_recall_curve(ranked), precision_recall_curve(is_positive, score), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)


def test_auroc_and_average_precision_known_answers():
    ranked = rank(np.array([0, 0, 1, 1]) == 1, np.array([0.1, 0.4, 0.35, 0.8]))
    assert ranking.auroc(ranked) == 0.75
    assert ranking.average_precision(ranked) == pytest.approx(5 / 6, abs=1e-15)
    # Every score tied: each pair counts 1/2.
    assert ranking.auroc(rank(np.array([True, False, False]), np.full(3, 0.5))) == 0.5


def test_undefined_without_positives_or_negatives():
    assert np.isnan(ranking.auroc(rank(np.array([False, False]), np.array([0.1, 0.2]))))
    assert np.isnan(ranking.auroc(rank(np.array([True, True]), np.array([0.1, 0.2]))))
    assert np.isnan(ranking.average_precision(rank(np.array([False, False]), np.array([0.1, 0.2]))))


def test_twice_pairs_below_is_the_same_in_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    keys, scores = np.sort(np.round(rng.random(1000), 2)), np.sort(np.round(rng.random(700), 2))
    whole = ranking.twice_pairs_below(keys, scores)
    monkeypatch.setattr(ranking, "_KEY_CHUNK", 7)
    assert ranking.twice_pairs_below(keys, scores) == whole
    below = (scores[None, :] < keys[:, None]).sum() * 2 + (scores[None, :] == keys[:, None]).sum()
    assert whole == below


@pytest.mark.parametrize("seed", range(10))
def test_micro_auroc_from_the_per_class_sorts_equals_sklearns(seed):
    rng = np.random.default_rng(seed)
    n, k = 400, 5
    proba = np.round(rng.dirichlet(np.ones(k), size=n), 2)  # ties within and across classes
    proba[:, -1] = 1 - proba[:, :-1].sum(axis=1)
    y_true = rng.integers(0, k - 1, size=n)  # the last class never occurs: absent from y_true
    m = compute_metrics(y_true, proba.argmax(axis=1), proba, list(range(k)))
    labels = list(range(k))
    expected = roc_auc_score(y_true, proba, multi_class="ovr", average="micro", labels=labels)
    assert m.auroc_micro == pytest.approx(expected, abs=1e-12)
    for j in range(k - 1):
        assert m.auroc[j] == pytest.approx(roc_auc_score(y_true == j, proba[:, j]), abs=1e-12)
        assert m.average_precision[j] == pytest.approx(average_precision_score(y_true == j, proba[:, j]), abs=1e-12)
    assert np.isnan(m.auroc[k - 1])
    assert m.undefined[f"auroc[{k - 1}]"] == f"class {k - 1} is absent from y_true (support 0)"
