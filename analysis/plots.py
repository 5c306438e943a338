"""The report's figures as PNG bytes: pure functions of the computed numbers.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend: ``savefig``
renders with Agg), so they are safe in threads and never need closing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from analysis.metrics import Metrics, thin
from analysis.thresholds import ThresholdAnalysis

_ANNOTATE_UP_TO = 20  # classes; beyond that the cell numbers are unreadable


def to_png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes.

    Examples
    --------
    >>> to_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def confusion_heatmap(metrics: Metrics) -> bytes:
    """Row-normalised confusion matrix as a heatmap, each cell annotated with its count.

    Examples
    --------
    >>> from analysis.metrics import compute_metrics
    >>> m = compute_metrics(np.array([0, 1]), np.array([0, 0]), np.array([[0.6, 0.4], [0.7, 0.3]]), [0, 1])
    >>> confusion_heatmap(m)[:4]
    b'\\x89PNG'
    """
    n = len(metrics.labels)
    figure = Figure(figsize=(1.0 + 0.6 * n, 0.6 + 0.6 * n))
    axes = figure.subplots()
    image = axes.imshow(metrics.confusion_normalized, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    axes.set(
        xticks=range(n),
        yticks=range(n),
        xticklabels=metrics.labels,
        yticklabels=metrics.labels,
        xlabel="predicted class",
        ylabel="true class",
        title="Confusion matrix (counts; colour = row-normalised)",
    )
    if n <= _ANNOTATE_UP_TO:
        for (row, col), count in np.ndenumerate(metrics.confusion):
            share = metrics.confusion_normalized[row, col]
            colour = "white" if np.isfinite(share) and share > 0.5 else "black"
            axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    return to_png(figure)


def roc_curves(metrics: Metrics) -> bytes:
    """One-vs-rest ROC curve of every class (AUROC in the legend)."""
    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    for label, curve, value in zip(metrics.labels, metrics.roc_curves, metrics.auroc, strict=True):
        axes.plot(curve.x, curve.y, lw=1, label=f"{label} (AUROC {value:.4f})")
    axes.plot([0, 1], [0, 1], "k:", lw=0.8)
    axes.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC, one vs rest")
    axes.legend(fontsize=7, loc="lower right")
    return to_png(figure)


def pr_curves(metrics: Metrics) -> bytes:
    """One-vs-rest precision-recall curve of every class (average precision in the legend)."""
    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    for label, curve, value in zip(metrics.labels, metrics.pr_curves, metrics.average_precision, strict=True):
        axes.plot(curve.x, curve.y, lw=1, label=f"{label} (AP {value:.4f})")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall, one vs rest", ylim=(0, 1.02))
    axes.legend(fontsize=7, loc="lower left")
    return to_png(figure)


def threshold_curve(analysis: ThresholdAnalysis) -> bytes:
    """Precision, recall and F1 of the positive class against the threshold, with the chosen points marked."""
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for name, values in (("precision", analysis.precision), ("recall", analysis.recall), ("F1", analysis.f1)):
        curve = thin(analysis.thresholds, values)
        axes.plot(curve.x, curve.y, lw=1.2, label=name)
    points = (
        ("best F1", analysis.best_f1),
        ("target precision", analysis.for_precision),
        ("target recall", analysis.for_recall),
    )
    for height, (name, point) in zip((0.02, 0.14, 0.26), points, strict=True):
        if point is not None:
            axes.axvline(point.threshold, ls="--", lw=0.8, color="grey")
            axes.annotate(f" {name} {point.threshold:.3g}", (point.threshold, height), fontsize=7)
    # A weak model's probabilities can all sit far below 1: show the thresholds that occur, not all of [0, 1].
    right = float(analysis.thresholds.max()) * 1.05 if analysis.thresholds.size else 1.0
    axes.set(
        xlabel=f"threshold on prob_{analysis.positive_class}",
        ylabel="value",
        title=f"Class {analysis.positive_class} vs rest: precision / recall trade-off",
        xlim=(0, min(1.0, right)),
        ylim=(0, 1.02),
    )
    axes.legend(fontsize=8)
    return to_png(figure)


def _numeric(values: Sequence[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Values as floats; categorical values as codes, with their names."""
    try:
        return np.asarray(values, dtype=float), None
    except (TypeError, ValueError):
        names = sorted({str(v) for v in values})
        return np.array([names.index(str(v)) for v in values], dtype=float), names


def metric_vs_parameters(
    configs: list[dict[str, Any]], metric: list[float], metric_name: str, parameters: list[str]
) -> bytes:
    """One scatter panel per swept parameter: the sweep metric of every scored trial against its value."""
    columns = min(3, len(parameters))
    rows = -(-len(parameters) // columns)
    figure = Figure(figsize=(4 * columns, 3 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, name in zip(grid.ravel(), parameters, strict=False):
        values, names = _numeric([config.get(name) for config in configs])
        axes.scatter(values, metric, s=14, alpha=0.8)
        axes.set(xlabel=name, ylabel=metric_name)
        if names is not None:
            axes.set_xticks(range(len(names)), names, rotation=30, fontsize=7)
        elif values.size and values.min() > 0 and values.max() / values.min() > 100:
            axes.set_xscale("log")
    for axes in grid.ravel()[len(parameters) :]:
        axes.set_visible(False)
    figure.suptitle(f"{metric_name} against each hyperparameter")
    figure.tight_layout()
    return to_png(figure)


def parallel_coordinates(
    configs: list[dict[str, Any]], metric: list[float], metric_name: str, parameters: list[str]
) -> bytes:
    """Every scored trial as one line across the parameters' axes (each scaled to its range), coloured by metric."""
    axes_names = [*parameters, metric_name]
    columns = [_numeric([config.get(name) for config in configs]) for name in parameters]
    columns.append((np.asarray(metric, dtype=float), None))
    scaled = []
    for values, _ in columns:
        low, high = np.nanmin(values), np.nanmax(values)
        scaled.append((values - low) / (high - low) if high > low else np.full_like(values, 0.5))
    points = np.stack(scaled, axis=1)
    figure = Figure(figsize=(1.8 * len(axes_names) + 1, 4))
    axes = figure.subplots()
    xs = np.arange(len(axes_names))
    lines = LineCollection([np.column_stack([xs, row]) for row in points], cmap="viridis", lw=1.2, alpha=0.8)
    lines.set_array(np.asarray(metric, dtype=float))
    axes.add_collection(lines)
    figure.colorbar(lines, ax=axes, label=metric_name)
    for x, (values, names) in zip(xs, columns, strict=True):
        axes.axvline(x, color="black", lw=0.6)
        low, high = (names[0], names[-1]) if names else (f"{np.nanmin(values):.3g}", f"{np.nanmax(values):.3g}")
        axes.text(x, -0.06, low, ha="center", va="top", fontsize=7)
        axes.text(x, 1.04, high, ha="center", va="bottom", fontsize=7)
    axes.set(xlim=(-0.2, len(axes_names) - 0.8), ylim=(-0.02, 1.02), xticks=xs, yticks=[])
    axes.tick_params(axis="x", pad=14)
    axes.set_xticklabels(axes_names, rotation=20, fontsize=8)
    axes.set_title("All scored trials (each axis scaled to its range)", pad=16)
    return to_png(figure)
