"""analysis.stats.calibration: reliability, ECE/MCE by hand on literal arrays; Brier and log-loss are sklearn's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from analysis.stats import calibration as calibration_module
from analysis.stats.calibration import calibration, reliability


def test_reliability_known_answer():
    # 4 bins of width 0.25. Bin [0, .25]: 0.1, 0.2 (one event); bin (.5, .75]: 0.6, 0.7, 0.75 (two events);
    # bin (.75, 1]: 0.9 (one event). Gaps: |0.5 - 0.15|, |2/3 - 0.6833|, |1 - 0.9|.
    happened = np.array([0, 1, 1, 0, 1, 1])
    probability = np.array([0.1, 0.2, 0.6, 0.7, 0.75, 0.9])
    r = reliability("x", happened, probability, bins=4)
    assert r.bin.tolist() == [0, 2, 3]
    assert r.count.tolist() == [2, 3, 1]
    np.testing.assert_allclose(r.mean_predicted, [0.15, 2.05 / 3, 0.9], atol=1e-12)
    np.testing.assert_allclose(r.observed, [0.5, 2 / 3, 1.0], atol=1e-12)
    gaps = np.array([0.35, abs(2 / 3 - 2.05 / 3), 0.1])
    assert r.ece == pytest.approx(float(np.dot([2, 3, 1], gaps) / 6), abs=1e-12)
    assert r.mce == pytest.approx(0.35, abs=1e-12)


def test_reliability_uses_sklearns_calibration_curve():
    rng = np.random.default_rng(0)
    probability = rng.random(500)
    happened = rng.random(500) < probability**2
    r = reliability("x", happened, probability)
    observed, mean_predicted = calibration_curve(happened, probability, n_bins=15)
    np.testing.assert_array_equal(r.observed, observed)
    np.testing.assert_array_equal(r.mean_predicted, mean_predicted)
    assert r.count.sum() == 500


def _softmax32(n: int, k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), y_true] += 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # float32 rows: off 1 by ~1e-7
    return y_true, proba.astype(np.float64)


@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_brier_and_log_loss_equal_sklearns_in_chunks(monkeypatch, chunk):
    monkeypatch.setattr(calibration_module, "_CHUNK_ROWS", chunk)
    y_true, proba = _softmax32(100, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the float32 sums' warning is handled, not leaked
        c = calibration(y_true, proba, [0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        brier = brier_score_loss(y_true, proba, labels=[0, 1, 2])
        loss = log_loss(y_true, proba, labels=[0, 1, 2])
    assert c.brier == pytest.approx(brier, abs=1e-12)
    assert c.log_loss == pytest.approx(loss, abs=1e-12)


def test_calibration_top_label_and_per_class():
    y_true = np.array([0, 1, 1])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    c = calibration(y_true, proba, [0, 1], bins=5)
    # Top label: confidences 0.8, 0.7 (right) and 0.6 (wrong, predicted 0 for a 1).
    assert c.top_label.count.tolist() == [1, 2]
    assert c.top_label.ece == pytest.approx((0.6 + 2 * 0.25) / 3, abs=1e-12)
    assert [r.name for r in c.per_class] == ["class 0", "class 1"]
    assert c.classwise_ece == pytest.approx(np.mean([r.ece for r in c.per_class]), abs=1e-15)
    # Binary Brier is halved (scikit-learn: for 2 columns, as for a binary problem).
    assert c.brier == pytest.approx((0.08 + 0.18 + 0.72) / 3 / 2, abs=1e-12)
