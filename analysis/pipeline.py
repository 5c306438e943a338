"""From a source to a written report: read, compute, plot, summarise (no wandb here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis import plots
from analysis.metrics import Metrics, compute_metrics, one_vs_rest
from analysis.predictions import Predictions, read_predictions
from analysis.report import write_report
from analysis.source import Source
from analysis.summary import build_summary
from analysis.thresholds import analyse_thresholds


@dataclass(frozen=True)
class Analysis:
    """Everything one report is made of."""

    predictions: Predictions
    metrics: Metrics
    summary: dict[str, Any]
    images: dict[str, bytes]


def default_positive_class(metrics: Metrics) -> int:
    """The class whose trade-off is shown when none is asked for: the larger label of a binary problem, else
    the class with the lowest F1 (the one most worth a closer look).

    Examples
    --------
    >>> m = compute_metrics(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]), np.full((4, 3), 1 / 3), [0, 1, 2])
    >>> default_positive_class(m)
    1
    """
    if len(metrics.labels) == 2:
        return metrics.labels[1]
    return metrics.labels[int(np.nanargmin(np.where(np.isnan(metrics.f1), np.inf, metrics.f1)))]


def analyse(
    source: Source,
    positive_class: int | None = None,
    target_precision: float | None = None,
    target_recall: float | None = None,
) -> Analysis:
    """Read the source's predictions and compute every metric, the threshold trade-off and the figures."""
    predictions = read_predictions(source.predictions_path)
    labels = predictions.labels.tolist()
    metrics = compute_metrics(predictions.y_true, predictions.y_pred, predictions.proba, labels)
    if positive_class is None:
        positive_class = default_positive_class(metrics)
        note = f"--positive-class not given: showing class {positive_class} (binary: class 1, else lowest F1)"
        source = replace(source, notes=[*source.notes, note])
    if positive_class not in labels:
        raise ValueError(
            f"--positive-class must be one of the classes {labels}, but got {positive_class}; fix: pick one"
        )
    code = labels.index(positive_class)
    thresholds = analyse_thresholds(
        one_vs_rest(predictions.y_true, len(labels))[:, code],
        predictions.proba[:, code],
        positive_class,
        target_precision,
        target_recall,
    )
    images = {
        "confusion_matrix": plots.confusion_heatmap(metrics),
        "roc": plots.roc_curves(metrics),
        "pr": plots.pr_curves(metrics),
        "thresholds": plots.threshold_curve(thresholds),
    }
    sweep = source.sweep
    scored = sweep.scored() if sweep else []
    if sweep and scored and sweep.parameters:
        configs = [t.config for t in scored]
        values = [float(t.metric_value or 0.0) for t in scored]
        images["metric_vs_parameters"] = plots.metric_vs_parameters(
            configs, values, sweep.metric_name, sweep.parameters
        )
        images["parallel_coordinates"] = plots.parallel_coordinates(
            configs, values, sweep.metric_name, sweep.parameters
        )
    targets = {"precision": target_precision, "recall": target_recall}
    summary = build_summary(source, predictions, metrics, thresholds, targets)
    return Analysis(predictions, metrics, summary, images)


def write(analysis: Analysis, directory: Path) -> dict[str, Path]:
    """Write the analysis' report files into ``directory``."""
    return write_report(analysis.summary, analysis.images, directory)
