"""Precision and recall of one class against the decision threshold on its probability.

The curve is scikit-learn's ``precision_recall_curve``, derived from the class's one sort (``analysis.stats.ranking``),
computed in chunks of thresholds: 10M distinct scores would need ~0.6 GB of temporaries at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.stats.metrics import thin_indices
from analysis.stats.ranking import Ranked, distinct_scores, precision_recall_curve

_CHUNK = 1 << 20


@dataclass(frozen=True)
class OperatingPoint:
    """One threshold and what predicting "positive when probability >= threshold" gives there."""

    threshold: float
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ThresholdAnalysis:
    """The precision/recall trade-off of ``positive_class``.

    Attributes
    ----------
    positive_class : int
        The class treated as positive (one-vs-rest).
    thresholds, precision, recall, f1 : numpy.ndarray
        The curve (scikit-learn's ``precision_recall_curve``): one entry per distinct probability, or at most
        ``CURVE_POINTS`` of them evenly spaced (ends kept) when there are more.
    best_f1 : OperatingPoint or None
        The threshold with the highest F1; ``None`` if the class is absent from ``y_true``.
    for_precision, for_recall : OperatingPoint or None
        The lowest threshold reaching the requested precision (most recall at that precision), and the highest
        threshold reaching the requested recall (most precision at that recall); ``None`` if not requested
        or not reachable (``reasons`` says which).
    reasons : dict
        Why an operating point is ``None``.
    """

    positive_class: int
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    best_f1: OperatingPoint | None
    for_precision: OperatingPoint | None
    for_recall: OperatingPoint | None
    reasons: dict[str, str]


def analyse_thresholds(
    ranked: Ranked,
    positive_class: int,
    target_precision: float | None = None,
    target_recall: float | None = None,
) -> ThresholdAnalysis:
    """Sweep the threshold on the scores of ``ranked``, the one-vs-rest problem of ``positive_class``.

    Examples
    --------
    >>> from analysis.stats.ranking import rank
    >>> r = rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> t = analyse_thresholds(r, 1, target_recall=1.0)
    >>> t.best_f1
    OperatingPoint(threshold=0.35, precision=0.6666666666666666, recall=1.0, f1=0.8)
    >>> t.for_recall.threshold, t.for_precision is None
    (0.35, True)
    """
    for name, target in (("target_precision", target_precision), ("target_recall", target_recall)):
        if target is not None and not 0 < target <= 1:
            raise ValueError(f"`0 < {name} <= 1` must hold, but got {name}={target}; fix: pass e.g. 0.9")
    if not ranked.positive.size:
        absent = f"class {positive_class} is absent from y_true: recall is undefined"
        reasons = {"best_f1": absent, "for_precision": absent, "for_recall": absent}
        empty = np.empty(0)
        return ThresholdAnalysis(positive_class, empty, empty, empty, empty, None, None, None, reasons)
    thresholds = distinct_scores(ranked)
    keep = thin_indices(thresholds.shape[0])
    best, best_f1 = -1, -1.0
    first_precise: int | None = None
    last_recalled: int | None = None
    curve: list[tuple[np.ndarray, ...]] = []
    for start in range(0, thresholds.shape[0], _CHUNK):
        chosen = thresholds[start : start + _CHUNK]
        precision, recall, f1 = _curve(ranked, chosen)
        i = int(np.argmax(f1))
        if f1[i] > best_f1:  # strictly: the first maximum over all chunks, as np.argmax over the whole curve
            best, best_f1 = start + i, float(f1[i])
        if target_precision is not None and first_precise is None:
            reaching = np.flatnonzero(precision >= target_precision)
            first_precise = start + int(reaching[0]) if reaching.size else None
        if target_recall is not None:
            reaching = np.flatnonzero(recall >= target_recall)
            last_recalled = start + int(reaching[-1]) if reaching.size else last_recalled
        shown = keep[(keep >= start) & (keep < start + chosen.shape[0])] - start
        curve.append((chosen[shown], precision[shown], recall[shown], f1[shown]))

    def point(i: int) -> OperatingPoint:
        precision, recall, f1 = _curve(ranked, thresholds[i : i + 1])
        return OperatingPoint(float(thresholds[i]), float(precision[0]), float(recall[0]), float(f1[0]))

    reasons = {}
    for_precision = for_recall = None
    if target_precision is not None:
        if first_precise is None:
            reasons["for_precision"] = f"no threshold reaches precision {target_precision}"
        else:
            for_precision = point(first_precise)
    if last_recalled is not None:  # recall is 1 at the lowest threshold: reachable whenever asked for
        for_recall = point(last_recalled)
    shown_thresholds, shown_precision, shown_recall, shown_f1 = (
        np.concatenate(part) for part in zip(*curve, strict=True)
    )
    return ThresholdAnalysis(
        positive_class,
        shown_thresholds,
        shown_precision,
        shown_recall,
        shown_f1,
        point(best),
        for_precision,
        for_recall,
        reasons,
    )


def _curve(ranked: Ranked, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 at ascending ``thresholds`` (F1 is 0 where precision and recall are)."""
    precision, recall, _ = precision_recall_curve(ranked, thresholds)
    # precision_recall_curve appends the (precision=1, recall=0) end point, which has no threshold.
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1
