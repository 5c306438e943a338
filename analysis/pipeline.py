"""From a source to a written report: read, compute, plot, summarise (no wandb here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.report import figures, sweep_figures
from analysis.report.front import FIGURE
from analysis.report.render import write_report
from analysis.report.sections import sections, title
from analysis.report.summary import Parts, build_summary
from analysis.sources.images import split_images
from analysis.sources.predictions import Predictions, read_predictions, table_notes
from analysis.sources.source import Source, SweepInfo
from analysis.stats import bootstrap
from analysis.stats.calibration import calibration
from analysis.stats.errors import confident_errors, top_confusions
from analysis.stats.importance import MIN_TRIALS, TREES, Importance, importance
from analysis.stats.metrics import Metrics, compute_metrics
from analysis.stats.thresholds import analyse_thresholds

RESAMPLE_BUDGET = 20_000_000
"""Rows x resamples the default report bootstraps (about 5 s for 10 classes on 2 cores; BENCHMARKS.md)."""
MIN_RESAMPLES = 200
GALLERY = 24


@dataclass(frozen=True)
class Analysis:
    """Everything one report is made of."""

    predictions: Predictions
    metrics: Metrics
    summary: dict[str, Any]
    images: dict[str, bytes]


def bootstrap_plan(n_rows: int, requested: int | None) -> tuple[int, str]:
    """How many resamples to draw, and the note that says why: ``requested`` when given (0: none), else
    ``bootstrap.RESAMPLES`` within ``RESAMPLE_BUDGET`` rows x resamples, down to ``MIN_RESAMPLES``.

    Examples
    --------
    >>> bootstrap_plan(10_000, None)
    (1000, '')
    >>> bootstrap_plan(50_000, None)[0], bootstrap_plan(10_000_000, None)[0], bootstrap_plan(10, 0)[0]
    (400, 0, 0)
    """
    if requested is not None:
        if requested < 0:
            raise ValueError(f"`--resamples >= 0` must hold, but got {requested}; fix: pass e.g. 1000, or 0 for none")
        return requested, "" if requested else "--resamples 0 asked for none"
    affordable = RESAMPLE_BUDGET // n_rows
    if affordable >= bootstrap.RESAMPLES:
        return bootstrap.RESAMPLES, ""
    if affordable >= MIN_RESAMPLES:
        return affordable, (
            f"{affordable} resamples, not {bootstrap.RESAMPLES}, to keep {n_rows} rows within the default budget "
            f"of {RESAMPLE_BUDGET:,} rows x resamples (--resamples N to choose)"
        )
    return 0, (
        f"{n_rows} rows x {MIN_RESAMPLES} resamples exceed the default budget of {RESAMPLE_BUDGET:,} rows x "
        f"resamples (pass --resamples N to compute them; the time grows with N x rows)"
    )


def analyse(
    source: Source,
    positive_class: int | None = None,
    target_precision: float | None = None,
    target_recall: float | None = None,
    resamples: int | None = None,
    seed: int = bootstrap.SEED,
    reproduced: dict[str, Any] | None = None,
) -> Analysis:
    """Read the source's predictions and compute every metric, interval, calibration, error view and figure;
    ``reproduced`` is the verdict of a rerun of its run (``analysis.sources.verify``), if one was made."""
    predictions = read_predictions(source.predictions_path)
    count, plan = bootstrap_plan(predictions.n_rows, resamples)
    labels = predictions.labels.tolist()
    y_true, proba = predictions.y_true, predictions.proba
    metrics = compute_metrics(y_true, predictions.y_pred, proba, labels, positive_class)
    notes = table_notes(predictions)
    if positive_class is None:
        notes.append(
            f"--positive-class not given: showing class {metrics.positive_class} (binary: class 1, else lowest F1)"
        )
    thresholds = analyse_thresholds(metrics.positive, metrics.positive_class, target_precision, target_recall)
    uncertainty = None
    if count:
        uncertainty = bootstrap.uncertainty(bootstrap.replicates(y_true, predictions.y_pred, proba, count, seed))
    calibrated = calibration(y_true, proba, labels)
    mistakes = confident_errors(predictions, GALLERY)
    found = split_images(source.run.config if source.run else None, predictions.index, predictions.labels[y_true])
    images = {
        "confusion_matrix": figures.confusion_heatmap(metrics),
        "roc": figures.roc_curves(metrics, uncertainty),
        "pr": figures.pr_curves(metrics, uncertainty),
        "reliability": figures.reliability_top_label(calibrated),
        "reliability_per_class": figures.reliability_per_class(calibrated),
        "thresholds": figures.threshold_curve(thresholds),
    }
    if found.images is not None and mistakes:
        images["gallery"] = figures.gallery(found.images, mistakes)
    ranked, note = None, ""
    if source.sweep is not None:
        ranked, note = _sweep_view(source.sweep, images)
    if source.pareto is not None:
        images[FIGURE[0]] = sweep_figures.front_figure(source.pareto, source.run.run_id if source.run else None)
    parts = Parts(
        source=source,
        predictions=predictions,
        metrics=metrics,
        thresholds=thresholds,
        targets={"precision": target_precision, "recall": target_recall},
        calibration=calibrated,
        uncertainty=uncertainty,
        uncertainty_note=plan,
        top_confusions=top_confusions(metrics.confusion, labels),
        confident_errors=mistakes,
        gallery=found.origin,
        importance=ranked,
        importance_note=note,
        table_notes=notes,
        reproduced=reproduced,
    )
    return Analysis(predictions, metrics, build_summary(parts), images)


def _sweep_view(sweep: SweepInfo, images: dict[str, bytes]) -> tuple[Importance | None, str]:
    """Add the sweep's figures to ``images``; return the parameter importance (or ``None``) and how it was made."""
    scored = sweep.scored()
    if not (scored and sweep.parameters):
        return None, f"needs at least {MIN_TRIALS} scored trials and a swept parameter ({len(scored)} scored)"
    configs = [t.config for t in scored]
    values = [float(t.metric_value or 0.0) for t in scored]
    for name, draw in (
        ("metric_vs_parameters", sweep_figures.metric_vs_parameters),
        ("parallel_coordinates", sweep_figures.parallel_coordinates),
    ):
        images[name] = draw(configs, values, sweep.metric_name, sweep.parameters)
    if len(scored) < MIN_TRIALS:
        return None, f"needs at least {MIN_TRIALS} scored trials ({len(scored)} scored)"
    ranked = importance(configs, values, sweep.metric_name, sweep.parameters)
    images["importance"] = sweep_figures.importance_bars(ranked)
    return ranked, (
        f"scikit-learn RandomForestRegressor ({TREES} trees, random_state=0) on the swept parameters (categorical "
        f"ones one-hot), impurity importance; correlation: Pearson (scipy), as W&B's parameter-importance panel"
    )


def write(analysis: Analysis, directory: Path) -> dict[str, Path]:
    """Write the analysis' report files into ``directory``."""
    return write_report(
        directory, title(analysis.summary), sections(analysis.summary), analysis.summary, analysis.images
    )
