"""Classification metrics of one run's predictions, equal to scikit-learn's.

The confusion matrix, precision, recall, F1 and accuracy are scikit-learn's own calls. The ranking metrics (AUROC
per class, macro and micro, average precision, the ROC and PR curves) come from ``analysis.stats.ranking``: each
class sorted once, the micro AUROC from the per-class sorts, equal to scikit-learn's to 1e-12 (tests) at a
fraction of its time (BENCHMARKS.md).

Ill-defined values are ``nan`` with a reason in ``Metrics.undefined`` (keyed like ``"precision[3]"``), never a
crash or a silent 0. Two places where scikit-learn itself returns 0 for an undefined value are reported as
undefined instead: a row-normalised confusion-matrix row of a class absent from ``y_true``, and the average
precision of such a class.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from analysis.stats import ranking
from analysis.stats.ranking import Ranked

AVERAGES = ("macro", "micro", "weighted")
CURVE_POINTS = 1000
# numpy's sorts and binary searches release the GIL, so classes overlap on threads; each thread holds ~25 bytes
# a row of temporary arrays, and two of them keep 10M rows x 10 classes under 2 GB (BENCHMARKS.md).
MAX_THREADS = 2


@dataclass(frozen=True)
class Curve:
    """A curve for plotting: at most ``CURVE_POINTS`` of its exact points (ends kept), at thresholds evenly spaced
    in rank among the scores."""

    x: np.ndarray
    y: np.ndarray


def thin_indices(n_points: int, max_points: int = CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced points out of ``n_points``, both ends included.

    Examples
    --------
    >>> thin_indices(10, max_points=3).tolist()
    [0, 4, 9]
    """
    return np.unique(np.linspace(0, n_points - 1, min(max_points, n_points)).astype(np.int64))


def thin(x: np.ndarray, y: np.ndarray) -> Curve:
    """The curve ``(x, y)`` reduced to its ``thin_indices``."""
    keep = thin_indices(x.shape[0])
    return Curve(x[keep], y[keep])


@dataclass(frozen=True)
class Metrics:
    """Every metric of one set of predictions; ``labels[k]`` names row/column/entry ``k``.

    Attributes
    ----------
    labels : list of int
        Class labels.
    confusion : numpy.ndarray
        Counts, rows = true class, columns = predicted class.
    confusion_normalized : numpy.ndarray
        ``confusion`` divided by its row sums (recall on the diagonal); ``nan`` rows for absent classes.
    precision, recall, f1, auroc, average_precision : numpy.ndarray
        Per class (AUROC and average precision one-vs-rest from the probabilities).
    support : numpy.ndarray
        True examples per class.
    averages : dict
        ``{"macro" | "micro" | "weighted": {"precision": ..., "recall": ..., "f1": ...}}``.
    accuracy, auroc_macro, auroc_micro, average_precision_macro : float
        Overall values; the macro values are unweighted means of the per-class values.
    roc_curves, pr_curves : list of Curve
        Per class: false-positive rate vs true-positive rate; recall vs precision (thinned, for plots).
    positive_class : int
        The class whose full precision/recall trade-off is kept (``positive``).
    positive : Ranked
        That class's sorted scores, for the threshold analysis.
    undefined : dict
        Metric key -> why it is ``nan``.
    notes : list of str
        How an average treated undefined per-class values (scikit-learn's ``zero_division=nan`` skips them).
    """

    labels: list[int]
    confusion: np.ndarray
    confusion_normalized: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    auroc: np.ndarray
    average_precision: np.ndarray
    averages: dict[str, dict[str, float]]
    accuracy: float
    auroc_macro: float
    auroc_micro: float
    average_precision_macro: float
    roc_curves: list[Curve]
    pr_curves: list[Curve]
    positive_class: int
    positive: Ranked
    undefined: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _ClassResult:
    auroc: float
    average_precision: float
    roc: Curve
    pr: Curve
    twice_micro_pairs: int
    ranked: Ranked | None


_EMPTY = Curve(np.empty(0), np.empty(0))


def _one_class(positive: np.ndarray, negative: np.ndarray, true_scores: np.ndarray, keep: bool) -> _ClassResult:
    ranked = Ranked(positive, negative)
    # Every (true-class score, this column's negative score) pair of the micro average, from this class's sort.
    micro = ranking.twice_pairs_below(true_scores, negative)
    roc = pr = _EMPTY
    if ranked.positive.size:
        thresholds = ranking.sampled_scores(ranked, CURVE_POINTS - 1)  # the ROC adds (0, 0)
        precision, recall, _ = ranking.precision_recall_curve(ranked, thresholds)
        pr = Curve(recall[:-1], precision[:-1])
        if ranked.defined:
            fpr, tpr, _ = ranking.roc_curve(ranked, thresholds[::-1])
            roc = Curve(fpr, tpr)
    return _ClassResult(
        ranking.auroc(ranked), ranking.average_precision(ranked), roc, pr, micro, ranked if keep else None
    )


def _sorted_scores(proba: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Column ``k`` of the selected rows as float64, sorted in place (the selection is already a copy)."""
    # A boolean mask on the 1-D column view copies the selected values directly; proba[rows, k] would first turn
    # the mask into an int64 index array (8 bytes a row).
    scores = np.asarray(proba[:, k][rows], dtype=np.float64)
    scores.sort()
    return scores


def default_positive_class(labels: list[int], f1: np.ndarray) -> int:
    """The class whose trade-off is shown when none is asked for: the larger label of a binary problem, else
    the class with the lowest F1 (the one most worth a closer look).

    Examples
    --------
    >>> default_positive_class([0, 1, 2], np.array([0.9, 0.5, np.nan]))
    1
    """
    if len(labels) == 2:
        return labels[1]
    return labels[int(np.argmin(np.where(np.isnan(f1), np.inf, f1)))]


def compute_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, labels: list[int], positive_class: int | None = None
) -> Metrics:
    """Compute every metric from class codes ``y_true``/``y_pred`` and probabilities ``proba``.

    ``positive_class`` (a label; default: ``default_positive_class``) is the class whose sorted scores are kept.

    Examples
    --------
    >>> m = compute_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                     np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]]), [0, 1])
    >>> m.auroc.tolist(), m.accuracy, m.confusion.tolist(), m.positive_class
    ([0.75, 0.75], 0.75, [[1, 1], [0, 2]], 1)
    """
    n_rows, n_classes = proba.shape
    codes = list(range(n_classes))
    confusion = confusion_matrix(y_true, y_pred, labels=codes)
    # scikit-learn on the k x k (true, predicted) pairs weighted by their counts: the same sums as over the n rows
    # (integer weights add exactly in float64), at the cost of k^2 rows instead of n.
    pair_true, pair_pred = np.divmod(np.arange(n_classes * n_classes), n_classes)
    weights = confusion.ravel().astype(np.float64)
    precision, recall, f1, support = precision_recall_fscore_support(
        pair_true, pair_pred, labels=codes, sample_weight=weights, zero_division=np.nan
    )
    averages = {}
    for average in AVERAGES:
        values = precision_recall_fscore_support(
            pair_true, pair_pred, labels=codes, average=average, sample_weight=weights, zero_division=np.nan
        )
        averages[average] = {"precision": float(values[0]), "recall": float(values[1]), "f1": float(values[2])}
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        confusion_normalized = confusion / support[:, None]
    if positive_class is None:
        positive_class = default_positive_class(labels, f1)
    if positive_class not in labels:
        raise ValueError(
            f"the positive class must be one of the classes {labels}, but got {positive_class}; fix: pick one"
        )
    keep = labels.index(positive_class)

    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        positives = list(pool.map(lambda k: _sorted_scores(proba, y_true == k, k), codes))
        # The micro AUROC's positives are every row's true-class score: the k sorted runs, merged by timsort.
        true_scores = np.concatenate(positives)
        true_scores.sort(kind="stable")
        per_class = list(
            pool.map(
                lambda k: _one_class(positives[k], _sorted_scores(proba, y_true != k, k), true_scores, k == keep),
                codes,
            )
        )
    auroc = np.array([result.auroc for result in per_class])
    average_precision = np.array([result.average_precision for result in per_class])
    micro_pairs = 2 * n_rows * n_rows * (n_classes - 1)
    notes: list[str] = []
    undefined = _reasons(labels, support, predicted, n_rows, precision, recall, f1, averages, notes)
    auroc_macro = float(np.mean(auroc))
    if np.isnan(auroc_macro):
        undefined["auroc_macro"] = "the mean of the per-class AUROCs, and at least one of them is undefined"
    average_precision_macro = float(np.mean(average_precision))
    if np.isnan(average_precision_macro):
        undefined["average_precision_macro"] = "the mean of the per-class values, and one of them is undefined"
    (positive,) = [result.ranked for result in per_class if result.ranked is not None]
    return Metrics(
        labels=list(labels),
        confusion=confusion,
        confusion_normalized=confusion_normalized,
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        auroc=auroc,
        average_precision=average_precision,
        averages=averages,
        accuracy=float(accuracy_score(pair_true, pair_pred, sample_weight=weights)),
        auroc_macro=auroc_macro,
        auroc_micro=sum(result.twice_micro_pairs for result in per_class) / micro_pairs,
        average_precision_macro=average_precision_macro,
        roc_curves=[result.roc for result in per_class],
        pr_curves=[result.pr for result in per_class],
        positive_class=positive_class,
        positive=positive,
        undefined=undefined,
        notes=notes,
    )


def _reasons(
    labels: list[int],
    support: np.ndarray,
    predicted: np.ndarray,
    n_rows: int,
    precision: np.ndarray,
    recall: np.ndarray,
    f1: np.ndarray,
    averages: dict[str, dict[str, float]],
    notes: list[str],
) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for k, label in enumerate(labels):
        absent = f"class {label} is absent from y_true (support 0)"
        if support[k] == 0:
            for key in ("recall", "auroc", "average_precision", "confusion_normalized"):
                reasons[f"{key}[{label}]"] = absent
        if support[k] == n_rows:
            reasons[f"auroc[{label}]"] = f"every example is class {label}: no negatives"
        if predicted[k] == 0:
            reasons[f"precision[{label}]"] = f"class {label} is never predicted (no predicted positives)"
        if np.isnan(f1[k]):
            reasons[f"f1[{label}]"] = f"class {label} is neither present nor predicted"
    for key, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        skipped = [labels[k] for k in np.flatnonzero(np.isnan(values))]
        for average, scores in averages.items():
            if np.isnan(scores[key]):
                reasons[f"{key}_{average}"] = f"{key} is undefined for every class"
            elif skipped and average != "micro":
                notes.append(f"{average} {key} averages only the classes where it is defined (not {skipped})")
    return reasons
