"""One class against the rest, sorted once: every ROC and PR point, area and threshold of the class comes from it.

scikit-learn sorts a class's scores once per call (``roc_curve``, ``precision_recall_curve``,
``average_precision_score``: three sorts for one class) and its micro AUROC sorts all n x k scores again. Here a
class's scores are split into positives and negatives and each part is sorted once (values only, ``np.sort``).
At any threshold ``t`` the counts are then binary searches, ``#positives >= t`` and ``#negatives >= t``, and the
AUROC is the Mann-Whitney count of correctly ranked (positive, negative) pairs, exact in integers. The numbers
equal scikit-learn's (tests: 1e-12, ties and absent classes included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_KEY_CHUNK = 1 << 20  # binary-search keys per call: bounds the two int64 result arrays to 16 MiB


@dataclass(frozen=True)
class Ranked:
    """The scores of one class's positives and of its negatives, each sorted ascending (float64)."""

    positive: np.ndarray
    negative: np.ndarray

    @property
    def defined(self) -> bool:
        """Whether both positives and negatives exist (otherwise AUROC is undefined)."""
        return bool(self.positive.size and self.negative.size)


def rank(is_positive: np.ndarray, score: np.ndarray) -> Ranked:
    """Split ``score`` by ``is_positive`` and sort each part: the class's one sort.

    Examples
    --------
    >>> r = rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> r.positive.tolist(), r.negative.tolist()
    ([0.35, 0.8], [0.1, 0.4])
    """
    score = np.asarray(score, dtype=np.float64)  # float32 storage casts exactly
    return Ranked(np.sort(score[is_positive]), np.sort(score[~is_positive]))


def twice_pairs_below(keys: np.ndarray, ranked_scores: np.ndarray) -> int:
    """``2 * sum over keys of (#scores < key + #scores == key / 2)``: a Mann-Whitney count, in integers.

    Sorted ``keys`` make each binary search start where the previous one ended (numpy uses the last result as a
    bound), so this is close to a linear merge.

    Examples
    --------
    >>> twice_pairs_below(np.array([0.35, 0.8]), np.array([0.1, 0.4]))
    6
    >>> twice_pairs_below(np.array([0.4]), np.array([0.1, 0.4]))
    3
    """
    total = 0
    for start in range(0, keys.shape[0], _KEY_CHUNK):
        chunk = keys[start : start + _KEY_CHUNK]
        total += int(np.searchsorted(ranked_scores, chunk, side="left").sum(dtype=np.int64))
        total += int(np.searchsorted(ranked_scores, chunk, side="right").sum(dtype=np.int64))
    return total


def auroc(ranked: Ranked) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); ``nan`` without positives or negatives.

    Examples
    --------
    >>> auroc(rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8])))
    0.75
    """
    if not ranked.defined:
        return float("nan")
    pairs = ranked.positive.size * ranked.negative.size
    return twice_pairs_below(ranked.positive, ranked.negative) / (2 * pairs)


def counts_at(ranked: Ranked, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when predicting "positive" for ``score >= threshold``, per threshold (int64).

    Examples
    --------
    >>> tps, fps = counts_at(rank(np.array([False, True]), np.array([0.2, 0.6])), np.array([0.6, 0.2]))
    >>> tps.tolist(), fps.tolist()
    ([1, 1], [0, 1])
    """
    tps = ranked.positive.size - np.searchsorted(ranked.positive, thresholds, side="left")
    fps = ranked.negative.size - np.searchsorted(ranked.negative, thresholds, side="left")
    return tps.astype(np.int64), fps.astype(np.int64)


def _merged(ranked: Ranked) -> np.ndarray:
    merged = np.concatenate([ranked.positive, ranked.negative])
    # Two sorted runs: numpy's stable sort (timsort) finds them and merges in linear time, here in place.
    merged.sort(kind="stable")
    return merged


def _evenly(scores: np.ndarray, count: int) -> np.ndarray:
    """``count`` of the sorted ``scores`` evenly spaced in rank, both ends included (all of them if fewer)."""
    return scores[np.unique(np.linspace(0, scores.size - 1, min(count, scores.size)).astype(np.int64))]


def sampled_scores(ranked: Ranked, count: int) -> np.ndarray:
    """At most ``count`` distinct scores, ascending, about evenly spaced in rank, the lowest and highest included:
    the thresholds of a curve's plotted points (each an exact point of the curve).

    Positives and negatives are sampled in proportion to their numbers, from their own sorted scores: no merged
    copy of the class's scores is made.

    Examples
    --------
    >>> sampled_scores(rank(np.array([False, True, True, False]), np.array([0.1, 0.2, 0.2, 0.9])), 3).tolist()
    [0.1, 0.2, 0.9]
    """
    total = ranked.positive.size + ranked.negative.size
    from_positives = min(ranked.positive.size, max(2, count * ranked.positive.size // total))
    picks = [_evenly(ranked.positive, from_positives), _evenly(ranked.negative, max(2, count - from_positives))]
    chosen = np.unique(np.concatenate(picks))
    return _evenly(chosen, count)


def distinct_scores(ranked: Ranked) -> np.ndarray:
    """Every distinct score, ascending: the thresholds at which the curves have a point.

    Examples
    --------
    >>> distinct_scores(rank(np.array([False, True, True]), np.array([0.3, 0.3, 0.9]))).tolist()
    [0.3, 0.9]
    """
    merged = _merged(ranked)
    if merged.size == 0:
        return merged
    last_of_value = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=last_of_value[:-1])
    last_of_value[-1] = True
    return merged[last_of_value]


def average_precision(ranked: Ranked) -> float:
    """Average precision (``sklearn.metrics.average_precision_score``); ``nan`` without positives.

    scikit-learn sums ``(recall_i - recall_{i+1}) * precision_i`` over every distinct threshold; the term is
    zero unless a positive has that score, so only the positives' distinct scores are visited.

    Examples
    --------
    >>> average_precision(rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8])))
    0.8333333333333333
    """
    n_positive = ranked.positive.size
    if n_positive == 0:
        return float("nan")
    first = np.flatnonzero(np.r_[True, ranked.positive[1:] != ranked.positive[:-1]])
    values = ranked.positive[first]
    tps, fps = counts_at(ranked, values)
    at_value = np.diff(np.r_[first, n_positive])
    recall_step = tps / n_positive - (tps - at_value) / n_positive
    return max(0.0, float(np.sum(recall_step * (tps / (tps + fps)))))


def roc_curve(ranked: Ranked, thresholds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fpr, tpr, thresholds`` as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` returns them.

    ``thresholds`` (descending) picks the points; default: every distinct score. Needs positives and negatives.

    Examples
    --------
    >>> fpr, tpr, t = roc_curve(rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8])))
    >>> fpr.tolist(), tpr.tolist(), t.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.8, 0.4, 0.35, 0.1])
    """
    chosen = distinct_scores(ranked)[::-1] if thresholds is None else thresholds
    tps, fps = counts_at(ranked, chosen)
    return (
        np.r_[0.0, fps / ranked.negative.size],
        np.r_[0.0, tps / ranked.positive.size],
        np.r_[np.inf, chosen],
    )


def precision_recall_curve(
    ranked: Ranked, thresholds: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``precision, recall, thresholds`` as ``sklearn.metrics.precision_recall_curve`` returns them.

    ``thresholds`` (ascending) picks the points; default: every distinct score. The last point (precision 1,
    recall 0) has no threshold, as in scikit-learn. Needs positives.

    Examples
    --------
    >>> p, r, t = precision_recall_curve(rank(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8])))
    >>> p.round(4).tolist(), r.tolist(), t.tolist()
    ([0.5, 0.6667, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0], [0.1, 0.35, 0.4, 0.8])
    """
    chosen = distinct_scores(ranked) if thresholds is None else thresholds
    tps, fps = counts_at(ranked, chosen)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros(tps.shape), where=predicted != 0)
    return np.r_[precision, 1.0], np.r_[tps / ranked.positive.size, 0.0], chosen
