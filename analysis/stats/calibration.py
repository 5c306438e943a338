"""Calibration: do the probabilities mean what they say? Reliability per class and for the top label, ECE, MCE,
Brier score and log-loss.

Binning: ``BINS`` equal-width bins on [0, 1], closed on the right (the first also on the left): scikit-learn's
``calibration_curve(strategy="uniform")`` rule, whose per-bin means are used as they are. ECE is the mean over
bins of ``|observed frequency - mean predicted probability|`` weighted by the bin's share of rows; MCE is its
largest value over non-empty bins. The top label is the argmax of each row's probabilities (ties: the first).
Brier score and log-loss are scikit-learn's (``brier_score_loss``: for 3+ classes the sum over classes, in
[0, 2]; for 2 classes halved, as for a binary problem).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

BINS = 15
_CHUNK_ROWS = 1 << 18  # scikit-learn's losses make ~4 n x k temporaries (one-hot, clipped copy): bounded by chunks


@dataclass(frozen=True)
class Reliability:
    """One reliability diagram: per non-empty bin, its position among the bins, the rows in it, their mean
    probability and how often the event happened; with its ECE and MCE (``nan`` without rows)."""

    name: str
    bin: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    ece: float
    mce: float


@dataclass(frozen=True)
class Calibration:
    """Reliability of the top label and of each class (one vs rest), and the two proper scoring rules."""

    bins: int
    top_label: Reliability
    per_class: list[Reliability]
    brier: float
    log_loss: float

    @property
    def classwise_ece(self) -> float:
        """Mean of the per-class ECEs (classes with rows in every bin weight alike)."""
        return float(np.mean([r.ece for r in self.per_class]))


def reliability(name: str, happened: np.ndarray, probability: np.ndarray, bins: int = BINS) -> Reliability:
    """Reliability diagram of ``probability`` for the event ``happened``.

    Examples
    --------
    >>> r = reliability("x", np.array([0, 1, 1, 1]), np.array([0.1, 0.7, 0.9, 0.95]), bins=2)
    >>> r.count.tolist(), r.observed.tolist(), round(r.ece, 4), round(r.mce, 4)
    ([1, 3], [0.0, 1.0], 0.1375, 0.15)
    """
    observed, mean_predicted = calibration_curve(happened, probability, n_bins=bins, strategy="uniform")
    # The row count per bin, by the same rule calibration_curve bins with (it returns only the means).
    edges = np.linspace(0.0, 1.0, bins + 1)
    count = np.bincount(np.searchsorted(edges[1:-1], probability), minlength=bins)
    filled = np.flatnonzero(count)
    count = count[filled]
    gap = np.abs(observed - mean_predicted)
    if count.size == 0:
        return Reliability(name, filled, count, mean_predicted, observed, float("nan"), float("nan"))
    ece, mce = float(np.sum(count * gap) / count.sum()), float(gap.max())
    return Reliability(name, filled, count, mean_predicted, observed, ece, mce)


def _chunked_mean(loss: str, y_true: np.ndarray, proba: np.ndarray, codes: list[int]) -> float:
    total = 0.0
    for start in range(0, y_true.shape[0], _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        y, p = y_true[rows], proba[rows].astype(np.float64)
        if loss == "log_loss":
            total += log_loss(y, p, labels=codes, normalize=False)
        else:
            total += brier_score_loss(y, p, labels=codes) * y.shape[0]
    return total / y_true.shape[0]


def calibration(y_true: np.ndarray, proba: np.ndarray, labels: list[int], bins: int = BINS) -> Calibration:
    """Calibration of probabilities ``proba`` for class codes ``y_true``.

    Examples
    --------
    >>> c = calibration(np.array([0, 1, 1]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), [0, 1], bins=5)
    >>> round(c.brier, 4), round(c.log_loss, 4), round(c.top_label.ece, 4)
    (0.1633, 0.4987, 0.3667)
    """
    codes = list(range(len(labels)))
    top_label = reliability("top label", proba.argmax(axis=1) == y_true, proba.max(axis=1).astype(np.float64), bins)
    per_class = [
        reliability(f"class {label}", y_true == k, proba[:, k].astype(np.float64), bins)
        for k, label in enumerate(labels)
    ]
    with warnings.catch_warnings():
        # The reader already required rows to sum to 1 within 1e-3; scikit-learn warns from ~1.5e-8 (float32
        # softmax rows are off by ~1e-7) and then computes on the values as given, as here.
        warnings.filterwarnings("ignore", message="The y_prob values do not sum to one")
        brier = _chunked_mean("brier", y_true, proba, codes)
        loss = _chunked_mean("log_loss", y_true, proba, codes)
    return Calibration(
        bins=bins,
        top_label=top_label,
        per_class=per_class,
        brier=brier,
        log_loss=loss,
    )
