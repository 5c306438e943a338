"""Bootstrap confidence intervals: every headline metric recomputed on seeded resamples of the rows.

A resample draws n rows with replacement (``numpy.random.default_rng(seed).integers``); its metrics are those of
the drawn rows, equal to scikit-learn's on them (tests: 1e-12). The intervals are percentile intervals
(``CONFIDENCE``, by default 95 %) over ``RESAMPLES`` resamples; the ROC and PR bands are pointwise percentile
bands on a fixed grid.

Why not ``scipy.stats.bootstrap``: it hands each resample's rows to the statistic, which would sort every class
again per resample. A resample does not change the order of the scores, only how often each row counts. So each
class is sorted once, and a resample is a vector of row counts: the weighted counts of positives and negatives at
each distinct score give its ROC and PR curve, AUROC and average precision in one pass (O(rows) per class).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95
FPR_GRID = np.geomspace(1e-4, 1.0, 81)
"""Where the ROC band is evaluated: log-spaced, since good classifiers differ at false-positive rates << 1."""
RECALL_GRID = np.linspace(0.01, 1.0, 100)
SCALARS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_micro",
    "recall_micro",
    "f1_micro",
    "auroc_macro",
    "auroc_micro",
    "average_precision_macro",
)
PER_CLASS = ("precision", "recall", "f1", "auroc", "average_precision")
_BATCH_CELLS = 2_000_000  # resamples x rows per batch: ~16 MB per temporary array
MAX_THREADS = 2


def resample_indices(n_rows: int, resamples: int, seed: int = SEED) -> Iterator[np.ndarray]:
    """The rows of each resample, in batches of shape ``(batch, n_rows)``: the draws every statistic here uses.

    Examples
    --------
    >>> [batch.shape for batch in resample_indices(4, 3)]
    [(3, 4)]
    """
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_CELLS // n_rows)
    for start in range(0, resamples, batch):
        yield rng.integers(0, n_rows, size=(min(batch, resamples - start), n_rows))


def row_counts(indices: np.ndarray, n_rows: int) -> np.ndarray:
    """How often each row was drawn, per resample: shape ``(batch, n_rows)``, int32.

    Counts and their running sums are integers up to ``n_rows``: exact in int32, and half the memory traffic of
    float64 in the running sums that dominate the time.

    Examples
    --------
    >>> row_counts(np.array([[0, 0, 2], [1, 2, 2]]), 3).tolist()
    [[2, 0, 1], [0, 1, 2]]
    """
    batch = indices.shape[0]
    flat = (indices + (np.arange(batch) * n_rows)[:, None]).ravel()
    return np.bincount(flat, minlength=batch * n_rows).reshape(batch, n_rows).astype(np.int32)


@dataclass(frozen=True)
class _SortedClass:
    """One class's rows sorted by score once, and every count a resample needs as a position in that order.

    Positions count rows in descending score order: with ``C`` the running sum of a resample's row counts along
    that order (a leading 0), ``C[i]`` is the weight of the first ``i`` rows, so "weight of the negatives scoring
    >= t" is ``C[#negatives scoring >= t]``, whatever the weights.
    """

    positive_rows: np.ndarray  # rows of the class, score descending
    negative_rows: np.ndarray  # the other rows, score descending
    # Per row r, against its true-class score t_r: #negatives of this column scoring >= t_r and > t_r.
    negatives_ge_true: np.ndarray
    negatives_gt_true: np.ndarray
    # Per positive (descending): #positives scoring >= its score (the end of its tie group).
    positives_ge: np.ndarray
    # ROC band: each negative's group of tied negatives; per group, its first and end position and #positives
    # scoring > and >= it.
    negative_group: np.ndarray
    negative_group_start: np.ndarray
    negative_group_end: np.ndarray
    positives_gt_group: np.ndarray
    positives_ge_group: np.ndarray
    # PR band: each positive's group of tied positives; per group, its end position and #negatives scoring >= it.
    positive_group: np.ndarray
    positive_group_end: np.ndarray
    negatives_ge_group: np.ndarray


def _descending(rows: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` by descending score, and their scores ascending (for binary searches)."""
    ascending = rows[np.argsort(score[rows], kind="stable")]
    return ascending[::-1], score[ascending]


def _at_least(ranked: np.ndarray, values: np.ndarray, strictly: bool = False) -> np.ndarray:
    """How many of the ascending ``ranked`` scores are >= (or >) each value."""
    return ranked.size - np.searchsorted(ranked, values, side="right" if strictly else "left")


def _group_ends(descending_scores: np.ndarray) -> np.ndarray:
    """End positions (exclusive) of each run of equal scores in a descending array; none for no scores (a class
    absent from ``y_true`` has no positives, one that every row has no negatives).

    >>> _group_ends(np.array([0.9, 0.9, 0.5])).tolist(), _group_ends(np.array([])).tolist()
    ([2, 3], [])
    """
    if descending_scores.size == 0:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(np.r_[descending_scores[1:] != descending_scores[:-1], True]) + 1


def _sort_class(score: np.ndarray, is_positive: np.ndarray, true_scores: np.ndarray) -> _SortedClass:
    positive_rows, positive_scores = _descending(np.flatnonzero(is_positive), score)
    negative_rows, negative_scores = _descending(np.flatnonzero(~is_positive), score)
    negative_ends = _group_ends(negative_scores[::-1])
    positive_ends = _group_ends(positive_scores[::-1])
    negative_values = negative_scores[::-1][negative_ends - 1]
    positive_values = positive_scores[::-1][positive_ends - 1]
    return _SortedClass(
        positive_rows,
        negative_rows,
        _at_least(negative_scores, true_scores),
        _at_least(negative_scores, true_scores, strictly=True),
        _at_least(positive_scores, positive_scores[::-1]),
        np.repeat(np.arange(negative_ends.size), np.diff(np.r_[0, negative_ends])),
        np.r_[0, negative_ends][:-1],
        negative_ends,
        _at_least(positive_scores, negative_values, strictly=True),
        _at_least(positive_scores, negative_values),
        np.repeat(np.arange(positive_ends.size), np.diff(np.r_[0, positive_ends])),
        positive_ends,
        _at_least(negative_scores, positive_values),
    )


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


def _running(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Running sums of the resamples' weights of ``rows`` in that order, with a leading 0: ``(batch, len + 1)``."""
    running = np.zeros((weights.shape[0], rows.size + 1), dtype=np.int32)
    np.cumsum(weights[:, rows], axis=1, out=running[:, 1:])
    return running


def _group_reaching(running: np.ndarray, targets: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Per resample, the group of the row whose running weight first reaches each (positive) target."""
    first = np.stack([np.searchsorted(row, goal, side="left") for row, goal in zip(running, targets, strict=True)])
    return group[(first - 1).clip(0, group.size - 1)]


def _class_batch(c: _SortedClass, weights: np.ndarray, curves: bool) -> tuple[np.ndarray, ...]:
    """Per resample: AUROC, average precision, twice this column's micro-AUROC pairs, and the band values."""
    negative, positive = _running(weights, c.negative_rows), _running(weights, c.positive_rows)
    n_neg, n_pos = negative[:, -1], positive[:, -1]
    # Weighted negatives of this column ranked below each row's true-class score (ties count 1/2), times 2.
    twice_below = 2 * n_neg[:, None] - negative[:, c.negatives_ge_true] - negative[:, c.negatives_gt_true]
    paired = np.multiply(weights, twice_below, dtype=np.int64)  # up to 2 n^2: past int32
    twice_micro = paired.sum(axis=1)
    auroc = _divide(paired[:, c.positive_rows].sum(axis=1), 2.0 * n_pos * n_neg)
    tps = positive[:, c.positives_ge]
    fps = negative[:, c.negatives_ge_true[c.positive_rows]]
    hit = np.divide(tps, tps + fps, out=np.zeros(tps.shape), where=tps > 0)
    average_precision = _divide((weights[:, c.positive_rows] * hit).sum(axis=1), n_pos.astype(np.float64))
    if not curves or not (c.positive_rows.size and c.negative_rows.size):
        bands = (
            np.full((weights.shape[0], FPR_GRID.size), np.nan),
            np.full((weights.shape[0], RECALL_GRID.size), np.nan),
        )
        return (auroc, average_precision, twice_micro, *bands) if curves else (auroc, average_precision, twice_micro)
    resample = np.arange(weights.shape[0])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        # ROC: the false-positive weight target falls inside one group of tied negatives; between the thresholds
        # just above and at its score the curve is a straight line, as in the AUROC's trapezoids.
        target = FPR_GRID[None, :] * n_neg[:, None]
        group = _group_reaching(negative, target, c.negative_group)
        before = negative[resample, c.negative_group_start[group]]
        after = negative[resample, c.negative_group_end[group]]
        low = positive[resample, c.positives_gt_group[group]]
        high = positive[resample, c.positives_ge_group[group]]
        roc = (low + (target - before) / (after - before) * (high - low)) / n_pos[:, None]
        # PR: the precision at the highest threshold whose recall reaches the target.
        group = _group_reaching(positive, RECALL_GRID[None, :] * n_pos[:, None], c.positive_group)
        reached = positive[resample, c.positive_group_end[group]]
        pr = reached / (reached + negative[resample, c.negatives_ge_group[group]])
    undefined = (n_pos == 0) | (n_neg == 0)
    roc[undefined], pr[undefined] = np.nan, np.nan
    return auroc, average_precision, twice_micro, roc, pr


@dataclass(frozen=True)
class Replicates:
    """Each metric once per resample: ``scalars[name]`` shape ``(resamples,)``, ``per_class[name]`` shape
    ``(resamples, classes)``, the bands' values ``(resamples, classes, grid)`` (``None`` if not asked for)."""

    resamples: int
    seed: int
    scalars: dict[str, np.ndarray]
    per_class: dict[str, np.ndarray]
    roc_tpr: np.ndarray | None = None
    pr_precision: np.ndarray | None = None


def replicates(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    curves: bool = True,
) -> Replicates:
    """Every headline metric (``SCALARS``, ``PER_CLASS``) on ``resamples`` resamples of the rows.

    Examples
    --------
    >>> r = replicates(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]]), resamples=3, curves=False)
    >>> next(resample_indices(4, 3)).tolist()  # the rows each resample drew
    [[3, 2, 2, 1], [1, 0, 0, 0], [0, 3, 2, 3]]
    >>> r.scalars["accuracy"].tolist()
    [0.75, 0.75, 1.0]
    """
    n_rows, n_classes = proba.shape
    if resamples < 1:
        raise ValueError(f"`resamples >= 1` must hold, but got resamples={resamples}; fix: pass e.g. 1000")
    true_scores = proba[np.arange(n_rows), y_true].astype(np.float64)
    pairs = y_true.astype(np.int64) * n_classes + y_pred
    pair_order = np.argsort(pairs, kind="stable")
    pair_starts = np.flatnonzero(np.r_[True, np.diff(pairs[pair_order]) != 0])
    pair_ids = pairs[pair_order][pair_starts]
    confusions, batches = [], []
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        classes = list(
            pool.map(lambda k: _sort_class(proba[:, k].astype(np.float64), y_true == k, true_scores), range(n_classes))
        )
        for indices in resample_indices(n_rows, resamples, seed):
            weights = row_counts(indices, n_rows)
            confusion = np.zeros((weights.shape[0], n_classes * n_classes), dtype=np.int64)
            confusion[:, pair_ids] = np.add.reduceat(weights[:, pair_order], pair_starts, axis=1)
            confusions.append(confusion.reshape(-1, n_classes, n_classes))
            batches.append(list(pool.map(_class_batch, classes, [weights] * n_classes, [curves] * n_classes)))
    auroc, average_precision = (np.concatenate([np.column_stack([c[i] for c in b]) for b in batches]) for i in (0, 1))
    twice_micro = np.concatenate([np.sum([c[2] for c in b], axis=0) for b in batches])
    scalars, per_class = _from_confusion(np.concatenate(confusions), n_rows)
    per_class |= {"auroc": auroc, "average_precision": average_precision}
    scalars |= {
        "auroc_macro": auroc.mean(axis=1),
        "auroc_micro": twice_micro / (2.0 * n_rows * n_rows * (n_classes - 1)),
        "average_precision_macro": average_precision.mean(axis=1),
    }
    if not curves:
        return Replicates(resamples, seed, scalars, per_class)
    roc, pr = (np.concatenate([np.stack([c[i] for c in b], axis=1) for b in batches]) for i in (3, 4))
    return Replicates(resamples, seed, scalars, per_class, roc, pr)


def _from_confusion(confusion: np.ndarray, n_rows: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Precision, recall and F1 per class and averaged, from confusion matrices ``(resamples, k, k)``, as
    ``precision_recall_fscore_support(..., zero_division=nan)`` computes them (undefined classes skipped)."""
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)
    accuracy = tp.sum(axis=1) / n_rows
    scalars = {"accuracy": accuracy, "precision_micro": accuracy, "recall_micro": accuracy, "f1_micro": accuracy}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample where every class is undefined: nan
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            scalars[f"{name}_macro"] = np.nanmean(values, axis=1)
    return scalars, {"precision": precision, "recall": recall, "f1": f1}


@dataclass(frozen=True)
class Uncertainty:
    """Percentile intervals: ``intervals[name] = (low, high)``, ``per_class[name]`` shape ``(classes, 2)``; the
    bands ``(classes, 2, grid)`` on ``FPR_GRID`` / ``RECALL_GRID``; and why some resamples gave no value."""

    resamples: int
    seed: int
    confidence: float
    intervals: dict[str, tuple[float, float]]
    per_class: dict[str, np.ndarray]
    roc_band: np.ndarray | None
    pr_band: np.ndarray | None
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """One line that says how the intervals were made."""
        return (
            f"percentile bootstrap, {self.resamples} resamples of the rows with replacement (numpy "
            f"default_rng({self.seed})), {self.confidence:.0%} intervals; bands pointwise"
        )


def _interval(values: np.ndarray, confidence: float) -> np.ndarray:
    """The percentile interval over the axis-0 values that are defined (``nan`` where none is), shape
    ``(2, *values.shape[1:])``.

    Equal to ``numpy.nanquantile`` (its linear interpolation, to the bit), vectorised: ``nanquantile`` loops in
    Python over every slice that holds a nan, and a class absent from some resamples puts one in each of its band
    points (seconds for 100 classes).

    >>> _interval(np.array([[1.0, np.nan], [2.0, np.nan], [3.0, 5.0], [np.nan, np.nan]]), 0.5).tolist()
    [[1.5, 5.0], [2.5, 5.0]]
    """
    tail = (1 - confidence) / 2
    ordered = np.sort(values, axis=0)  # nan last
    count = np.sum(~np.isnan(values), axis=0)
    last = np.maximum(count - 1, 0)
    bounds = []
    for q in (tail, 1 - tail):
        position = (count - 1) * q  # numpy's "linear" virtual index
        below = np.clip(np.floor(position), 0, last).astype(np.intp)
        a = np.take_along_axis(ordered, below[None], axis=0)[0]
        b = np.take_along_axis(ordered, np.minimum(below + 1, last)[None], axis=0)[0]
        gamma = position - np.floor(position)
        # numpy's _lerp: from the nearer end, so that equal ends give exactly that value.
        bounds.append(np.where(gamma >= 0.5, b - (b - a) * (1 - gamma), a + (b - a) * gamma))
    return np.stack(bounds)


def uncertainty(replicates: Replicates, confidence: float = CONFIDENCE) -> Uncertainty:
    """Percentile intervals of every replicated metric.

    Examples
    --------
    >>> r = Replicates(4, 0, {"accuracy": np.array([0.7, 0.8, 0.9, np.nan])}, {})
    >>> u = uncertainty(r, confidence=0.5)
    >>> np.round(u.intervals["accuracy"], 6).tolist(), u.undefined["accuracy"]
    ([0.75, 0.85], 'undefined in 1 of 4 resamples; the interval uses the other 3')
    """
    undefined = {}
    for name, values in (*replicates.scalars.items(), *replicates.per_class.items()):
        missing = np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
        if missing.any():
            undefined[name] = (
                f"undefined in {int(missing.sum())} of {replicates.resamples} resamples; the interval uses the "
                f"other {replicates.resamples - int(missing.sum())}"
            )
    intervals = {
        name: (float(low), float(high))
        for name, (low, high) in ((n, _interval(v, confidence)) for n, v in replicates.scalars.items())
    }
    per_class = {name: _interval(values, confidence).T for name, values in replicates.per_class.items()}
    bands = [
        None if values is None else np.moveaxis(_interval(values, confidence), 0, 1)
        for values in (replicates.roc_tpr, replicates.pr_precision)
    ]
    return Uncertainty(
        replicates.resamples, replicates.seed, confidence, intervals, per_class, bands[0], bands[1], undefined
    )
