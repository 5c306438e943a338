"""Classification metrics of one run's predictions, every number computed by scikit-learn.

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
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_curve,
)

AVERAGES = ("macro", "micro", "weighted")
CURVE_POINTS = 1000
MAX_THREADS = 4


@dataclass(frozen=True)
class Curve:
    """A curve for plotting, thinned to at most ``CURVE_POINTS`` of its exact points (ends kept)."""

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
    accuracy, auroc_macro, auroc_micro : float
        Overall values; ``auroc_macro`` is the unweighted mean of the per-class AUROCs.
    roc_curves, pr_curves : list of Curve
        Per class: false-positive rate vs true-positive rate; recall vs precision (thinned, for plots).
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
    roc_curves: list[Curve] = field(default_factory=list)
    pr_curves: list[Curve] = field(default_factory=list)
    undefined: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def one_vs_rest(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """Return the boolean one-hot matrix of class codes ``y_true`` (column ``k``: "is class ``k``").

    Examples
    --------
    >>> one_vs_rest(np.array([0, 2]), 3).astype(int).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    return y_true[:, None] == np.arange(n_classes)[None, :]


def binary_auroc(is_positive: np.ndarray, score: np.ndarray) -> float:
    """AUROC of one positive-vs-rest problem, as ``sklearn.metrics.roc_auc_score``; ``nan`` if undefined.

    Examples
    --------
    >>> binary_auroc(np.array([False, False, True, True]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    return _roc(is_positive, score)[0]


def _roc(is_positive: np.ndarray, score: np.ndarray) -> tuple[float, Curve]:
    # Undefined without both classes (scikit-learn: nan and a warning). Decided here, because this runs in
    # threads, where `warnings.catch_warnings` is not safe; the caller reports the reason.
    if is_positive.all() or not is_positive.any():
        return np.nan, Curve(np.empty(0), np.empty(0))
    fpr, tpr, _ = roc_curve(is_positive, score)
    return float(auc(fpr, tpr)), thin(fpr, tpr)


def _one_class(is_positive: np.ndarray, score: np.ndarray) -> tuple[float, Curve, float, Curve]:
    auroc, roc = _roc(is_positive, score)
    if not is_positive.any():  # scikit-learn returns 0.0 here: report undefined instead
        return auroc, roc, np.nan, Curve(np.empty(0), np.empty(0))
    precision, recall, _ = precision_recall_curve(is_positive, score)
    return auroc, roc, float(average_precision_score(is_positive, score)), thin(recall, precision)


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, labels: list[int]) -> Metrics:
    """Compute every metric from class codes ``y_true``/``y_pred`` and probabilities ``proba``.

    Examples
    --------
    >>> m = compute_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
    ...                     np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]]), [0, 1])
    >>> m.auroc.tolist(), m.accuracy, m.confusion.tolist()
    ([0.75, 0.75], 0.75, [[1, 1], [0, 2]])
    """
    n_classes = len(labels)
    codes = list(range(n_classes))
    confusion = confusion_matrix(y_true, y_pred, labels=codes)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        confusion_normalized = confusion / support[:, None]
    # zero_division=nan: an undefined precision/recall/F1 is nan (no warning), and averages skip it.
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=codes, zero_division=np.nan)
    averages = {average: _averaged(y_true, y_pred, codes, average) for average in AVERAGES}
    onehot = one_vs_rest(y_true, n_classes)
    # numpy's sorts release the GIL, so the per-class curves overlap on a few threads (each holds ~60 bytes a
    # row). The micro average sorts all n x k scores at once: it runs alone afterwards, which bounds the peak.
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        per_class = list(pool.map(lambda k: _one_class(onehot[:, k], proba[:, k]), codes))
    auroc_micro = binary_auroc(onehot.ravel(), proba.ravel())
    auroc = np.array([result[0] for result in per_class])
    average_precision = np.array([result[2] for result in per_class])
    notes: list[str] = []
    undefined = _reasons(labels, support, predicted, y_true.shape[0], precision, recall, f1, averages, notes)
    auroc_macro = float(np.mean(auroc))
    if np.isnan(auroc_macro):
        undefined["auroc_macro"] = "the mean of the per-class AUROCs, and at least one of them is undefined"
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
        accuracy=float(accuracy_score(y_true, y_pred)),
        auroc_macro=auroc_macro,
        auroc_micro=auroc_micro,
        roc_curves=[result[1] for result in per_class],
        pr_curves=[result[3] for result in per_class],
        undefined=undefined,
        notes=notes,
    )


def _averaged(y_true: np.ndarray, y_pred: np.ndarray, codes: list[int], average: str) -> dict[str, float]:
    values = precision_recall_fscore_support(y_true, y_pred, labels=codes, average=average, zero_division=np.nan)
    return {"precision": float(values[0]), "recall": float(values[1]), "f1": float(values[2])}


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
