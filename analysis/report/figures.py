"""The report's metric figures as PNG bytes: pure functions of the computed numbers.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend: ``savefig``
renders with Agg), so they are safe in threads and never need closing.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.stats.bootstrap import FPR_GRID, RECALL_GRID, Uncertainty
from analysis.stats.calibration import Calibration, Reliability
from analysis.stats.metrics import Curve, Metrics, thin
from analysis.stats.thresholds import ThresholdAnalysis

_ANNOTATE_UP_TO = 20  # classes; beyond that the cell numbers are unreadable
PANELS = 20  # classes shown as small multiples; with more, the ones with the lowest values
_COLUMNS = 5


def to_png(figure: Figure, tight: bool = True) -> bytes:
    """Render a figure to PNG bytes, cropped to its contents (``tight``: a second layout pass, ~+50 % time).

    Examples
    --------
    >>> to_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


def confusion_heatmap(metrics: Metrics) -> bytes:
    """Row-normalised confusion matrix as a heatmap, each cell annotated with its count.

    Examples
    --------
    >>> from analysis.stats.metrics import compute_metrics
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


def _panels(count: int, width: float = 2.6, height: float = 2.4, columns: int = _COLUMNS) -> tuple[Figure, list[Axes]]:
    # No layout engine: constrained layout doubles the drawing time of 10+ small panels; fixed spacing suffices.
    columns = min(columns, count)
    rows = -(-count // columns)
    # Fixed margins (no cropping pass): half an inch above for the title and below for the x labels.
    inches = height * rows + 0.5
    figure = Figure(figsize=(width * columns, inches))
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.45 / inches, top=1 - 0.5 / inches, hspace=0.55, wspace=0.3)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel()[count:]:
        axes.set_visible(False)
    return figure, list(grid.ravel()[:count])


def _shown(values: np.ndarray) -> list[int]:
    """The classes drawn as panels: all of them, or the ``PANELS`` with the lowest value (undefined first)."""
    order = np.argsort(np.where(np.isnan(values), -np.inf, values), kind="stable")
    return sorted(order[:PANELS].tolist())


def _interval_text(uncertainty: Uncertainty | None, name: str, k: int) -> str:
    if uncertainty is None:
        return ""
    low, high = uncertainty.per_class[name][k]
    return "" if np.isnan(low) else f" [{low:.4f}, {high:.4f}]"


def _log_fpr(fpr: np.ndarray) -> np.ndarray:
    # log10 on a linear axis: matplotlib's log scale costs ~0.1 s per panel to draw; this looks the same.
    return np.log10(np.clip(fpr, FPR_GRID[0], 1.0))


def _curve_panels(metrics: Metrics, uncertainty: Uncertainty | None, roc: bool) -> bytes:
    values = metrics.auroc if roc else metrics.average_precision
    curves = metrics.roc_curves if roc else metrics.pr_curves
    band = None if uncertainty is None else (uncertainty.roc_band if roc else uncertainty.pr_band)
    grid = _log_fpr(FPR_GRID) if roc else RECALL_GRID
    shown = _shown(values)
    figure, panels = _panels(len(shown))
    for axes, k in zip(panels, shown, strict=True):
        curve: Curve = curves[k]
        if band is not None and not np.isnan(band[k]).all():
            axes.fill_between(grid, band[k, 0], band[k, 1], alpha=0.3, lw=0)
        axes.plot(_log_fpr(curve.x) if roc else curve.x, curve.y, lw=1.2)
        name = "AUROC" if roc else "AP"
        interval = _interval_text(uncertainty, "auroc" if roc else "average_precision", k)
        axes.set_title(f"class {metrics.labels[k]}: {name} {values[k]:.4f}{interval}", fontsize=7)
        axes.tick_params(labelsize=6)
        axes.set_ylim(0, 1.02)
        if roc:
            axes.plot(grid, FPR_GRID, "k:", lw=0.6)
            axes.set_xticks(range(-4, 1), ["1e-4", "1e-3", "0.01", "0.1", "1"])
            axes.set_xlim(-4, 0)
            axes.set_xlabel("false-positive rate (log)", fontsize=6)
            axes.set_ylabel("true-positive rate", fontsize=6)
        else:
            # Good models keep precision near 1 until high recall: zoom on the range the curve spans there.
            body = curve.y[curve.x <= 0.95]
            low = max(0.0, np.floor(float(body.min()) * 20) / 20 - 0.05) if body.size else 0.0
            axes.set_ylim(low, 1.01)
            axes.set_xlim(0, 1)
            axes.set_xlabel("recall", fontsize=6)
            axes.set_ylabel("precision", fontsize=6)
    what = "ROC, one vs rest" if roc else "Precision-recall, one vs rest (precision axis zoomed)"
    band_text = "" if uncertainty is None else f"; shaded: pointwise {uncertainty.confidence:.0%} bootstrap band"
    more = "" if len(shown) == len(values) else f" ({len(shown)} of {len(values)} classes: the lowest)"
    figure.suptitle(f"{what}{more}{band_text}", fontsize=9)
    return to_png(figure, tight=False)


def roc_curves(metrics: Metrics, uncertainty: Uncertainty | None = None) -> bytes:
    """One-vs-rest ROC curve of each class (log false-positive rate, where good models differ), with its band.

    Examples
    --------
    >>> from analysis.stats.metrics import compute_metrics
    >>> m = compute_metrics(np.array([0, 1]), np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]), [0, 1])
    >>> roc_curves(m)[:4]
    b'\\x89PNG'
    """
    return _curve_panels(metrics, uncertainty, roc=True)


def pr_curves(metrics: Metrics, uncertainty: Uncertainty | None = None) -> bytes:
    """One-vs-rest precision-recall curve of each class, with its band.

    Examples
    --------
    >>> from analysis.stats.metrics import compute_metrics
    >>> m = compute_metrics(np.array([0, 1]), np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]), [0, 1])
    >>> pr_curves(m)[:4]
    b'\\x89PNG'
    """
    return _curve_panels(metrics, uncertainty, roc=False)


def _reliability_panel(axes: Axes, reliability: Reliability, bins: int, xlabel: str, ylabel: str) -> None:
    """Bars: how often the event happened in each bin (at the bin); dots: at the bin's mean probability."""
    width = 1 / bins
    axes.bar((reliability.bin + 0.5) * width, reliability.observed, width=width * 0.9, alpha=0.5, color="tab:blue")
    axes.plot(reliability.mean_predicted, reliability.observed, "o", ms=2.5, color="tab:blue")
    axes.plot([0, 1], [0, 1], color="black", ls=":", lw=0.8)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(xlabel, fontsize=7)
    axes.set_ylabel(ylabel, fontsize=7)
    axes.tick_params(labelsize=6)


def reliability_top_label(calibration: Calibration) -> bytes:
    """Reliability diagram of the top label: accuracy against confidence per bin, rows per bin written above.

    Examples
    --------
    >>> from analysis.stats.calibration import calibration
    >>> c = calibration(np.array([0, 1, 1]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), [0, 1])
    >>> reliability_top_label(c)[:4]
    b'\\x89PNG'
    """
    top = calibration.top_label
    figure = Figure(figsize=(6, 4.4))
    axes = figure.subplots()
    _reliability_panel(axes, top, calibration.bins, "confidence (largest probability)", "accuracy")
    for x, y, rows in zip((top.bin + 0.5) / calibration.bins, top.observed, top.count, strict=True):
        axes.annotate(str(rows), (x, y), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=6)
    axes.set_title(
        f"Top label: ECE {top.ece:.4f}, MCE {top.mce:.4f}; {calibration.bins} equal-width bins, rows per bin",
        fontsize=8,
    )
    return to_png(figure)


def reliability_per_class(calibration: Calibration) -> bytes:
    """Reliability diagram of each class against the rest, as small multiples.

    Examples
    --------
    >>> from analysis.stats.calibration import calibration
    >>> c = calibration(np.array([0, 1, 1]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), [0, 1])
    >>> reliability_per_class(c)[:4]
    b'\\x89PNG'
    """
    eces = np.array([r.ece for r in calibration.per_class])
    shown = _shown(-eces)  # the least calibrated when there are too many classes to show
    figure, panels = _panels(len(shown))
    for axes, k in zip(panels, shown, strict=True):
        reliability = calibration.per_class[k]
        _reliability_panel(axes, reliability, calibration.bins, "predicted probability", "observed frequency")
        axes.set_title(f"{reliability.name}: ECE {reliability.ece:.4f}, MCE {reliability.mce:.4f}", fontsize=7)
    figure.suptitle(
        f"Each class vs rest: {calibration.bins} equal-width bins; on the diagonal = calibrated", fontsize=9
    )
    return to_png(figure, tight=False)


def gallery(images: np.ndarray, errors: list[dict[str, Any]], columns: int = 8) -> bytes:
    """The test images of the given mistakes as one mosaic, each captioned with its index, true and predicted class
    and the probability of the prediction.

    Examples
    --------
    >>> errors = [{"index": 1, "y_true": 3, "y_pred": 8, "probability": 0.97}]
    >>> gallery(np.zeros((2, 28, 28), np.uint8), errors)[:4]
    b'\\x89PNG'
    """
    # One mosaic in one axes draws ~10x faster than one axes per image.
    height, width = images.shape[1:3]
    columns = min(columns, len(errors))
    rows = -(-len(errors) // columns)
    pad, caption = 4, height // 2  # pixels between images, and below each for its caption
    tile_height, tile_width = height + caption, width + pad
    mosaic = np.zeros((rows * tile_height, columns * tile_width), dtype=images.dtype)
    for i, error in enumerate(errors):
        top, left = (i // columns) * tile_height, (i % columns) * tile_width
        mosaic[top : top + height, left : left + width] = images[error["index"]]
    figure = Figure(figsize=(1.5 * columns, 1.5 * rows * tile_height / tile_width + 0.4))
    axes = figure.add_axes((0, 0, 1, 0.9))
    axes.imshow(mosaic, cmap="gray_r", interpolation="nearest")
    for i, error in enumerate(errors):
        x, y = (i % columns) * tile_width + width / 2, (i // columns) * tile_height + height + 1
        text = f"#{error['index']}: {error['y_true']}→{error['y_pred']}, p={error['probability']:.2f}"
        axes.text(x, y, text, ha="center", va="top", fontsize=7)
    axes.set_axis_off()
    figure.suptitle("Most confident mistakes: #index true→predicted, p = probability of the prediction", fontsize=9)
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
