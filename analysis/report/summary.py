"""Every number of a report as one JSON-ready dict (``nan`` becomes ``null``, with its reason alongside)."""

from __future__ import annotations

import hashlib
import math
import platform
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from analysis.report import front
from analysis.sources.predictions import Predictions
from analysis.sources.source import Source
from analysis.sources.verify import not_checked
from analysis.stats.bootstrap import FPR_GRID, RECALL_GRID, Uncertainty
from analysis.stats.calibration import Calibration, Reliability
from analysis.stats.importance import Importance
from analysis.stats.metrics import Metrics, thin_indices
from analysis.stats.thresholds import OperatingPoint, ThresholdAnalysis

SCHEMA = "mnist-wandb-sweeps/analysis-report/2"
_VERSIONED = ("numpy", "scikit-learn", "scipy", "matplotlib", "pyarrow", "wandb")


def plain(value: Any) -> Any:
    """Convert numpy values and non-finite floats into JSON-ready Python values (``nan`` -> ``None``).

    Examples
    --------
    >>> plain({"a": np.array([1.5, np.nan]), "b": np.int64(3)})
    {'a': [1.5, None], 'b': 3}
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Python's and the numeric packages' versions."""
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except ModuleNotFoundError:
            found[name] = "not installed"
    return found


def provenance(source: Source, predictions: Predictions, notes: list[str]) -> dict[str, Any]:
    """Where the predictions came from, the file's digest, the command and the package versions."""
    return {
        "origin": source.origin,
        "predictions_file": str(source.predictions_path),
        "sha256": sha256(source.predictions_path),
        "bytes": source.predictions_path.stat().st_size,
        "rows": predictions.n_rows,
        "artifact": source.artifact,
        "predictions_schema": source.schema_version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python -m analysis", *sys.argv[1:]]),
        "versions": versions(),
        "notes": [*source.notes, *notes],
    }


HEADLINE = (
    ("accuracy", "accuracy"),
    ("precision_macro", "precision macro"),
    ("recall_macro", "recall macro"),
    ("f1_macro", "F1 macro"),
    ("precision_micro", "precision micro"),
    ("recall_micro", "recall micro"),
    ("f1_micro", "F1 micro"),
    ("precision_weighted", "precision weighted"),
    ("recall_weighted", "recall weighted"),
    ("f1_weighted", "F1 weighted"),
    ("auroc_macro", "AUROC macro (one vs rest)"),
    ("auroc_micro", "AUROC micro (one vs rest)"),
    ("average_precision_macro", "average precision macro"),
)
"""Key and display name of every headline scalar, in report order."""


def headline_values(metrics: Metrics) -> dict[str, float]:
    """The headline scalars by key (see ``HEADLINE``).

    Examples
    --------
    >>> from analysis.stats.metrics import compute_metrics
    >>> m = compute_metrics(np.array([0, 1]), np.array([0, 0]), np.array([[0.6, 0.4], [0.7, 0.3]]), [0, 1])
    >>> values = headline_values(m)
    >>> sorted(key for key, _ in HEADLINE) == sorted(values), values["accuracy"], values["auroc_macro"]
    (True, 0.5, 0.0)
    """
    values = {
        "accuracy": metrics.accuracy,
        "auroc_macro": metrics.auroc_macro,
        "auroc_micro": metrics.auroc_micro,
        "average_precision_macro": metrics.average_precision_macro,
    }
    for average, scores in metrics.averages.items():
        values |= {f"{name}_{average}": value for name, value in scores.items()}
    return values


@dataclass(frozen=True)
class Parts:
    """What one report is computed from (the pipeline's results, before any rendering)."""

    source: Source
    predictions: Predictions
    metrics: Metrics
    thresholds: ThresholdAnalysis
    targets: dict[str, float | None]
    calibration: Calibration
    uncertainty: Uncertainty | None
    uncertainty_note: str
    top_confusions: list[dict[str, Any]]
    confident_errors: list[dict[str, Any]]
    gallery: str
    importance: Importance | None
    importance_note: str
    table_notes: list[str]
    reproduced: dict[str, Any] | None = None
    """The rerun's verdict (``analysis.sources.verify``); None: none was made."""


def _point(point: OperatingPoint | None) -> dict[str, float] | None:
    return None if point is None else vars(point)


def _reliability(reliability: Reliability) -> dict[str, Any]:
    return {
        "name": reliability.name,
        "ece": reliability.ece,
        "mce": reliability.mce,
        "bins": {
            "rows": reliability.count,
            "mean_predicted": reliability.mean_predicted,
            "observed": reliability.observed,
        },
    }


def _uncertainty(parts: Parts) -> dict[str, Any]:
    u, labels = parts.uncertainty, parts.metrics.labels
    if u is None:
        return {"skipped": parts.uncertainty_note}
    bands: dict[str, Any] = {"fpr_grid": FPR_GRID, "recall_grid": RECALL_GRID, "roc": {}, "pr": {}}
    for name, band in (("roc", u.roc_band), ("pr", u.pr_band)):
        if band is not None:
            bands[name] = {str(label): {"low": band[k, 0], "high": band[k, 1]} for k, label in enumerate(labels)}
    return {
        "method": u.method,
        "resamples": u.resamples,
        "seed": u.seed,
        "confidence": u.confidence,
        "note": parts.uncertainty_note,
        "intervals": u.intervals,
        "undefined": u.undefined,
        "bands": bands,
    }


def _per_class(parts: Parts) -> list[dict[str, Any]]:
    m, u = parts.metrics, parts.uncertainty
    rows = []
    for k, label in enumerate(m.labels):
        row: dict[str, Any] = {
            "class": label,
            "precision": m.precision[k],
            "recall": m.recall[k],
            "f1": m.f1[k],
            "support": m.support[k],
            "auroc": m.auroc[k],
            "average_precision": m.average_precision[k],
            "ece": parts.calibration.per_class[k].ece,
        }
        if u is not None:
            row["intervals"] = {name: values[k] for name, values in u.per_class.items()}
        rows.append(row)
    return rows


def _sweep(parts: Parts) -> dict[str, Any] | None:
    sweep, run = parts.source.sweep, parts.source.run
    if sweep is None:
        return None
    imp = parts.importance
    importance: dict[str, Any] = {"skipped": parts.importance_note}
    if imp is not None:
        importance = {
            "method": parts.importance_note,
            "trials": imp.n_trials,
            "features": [
                {"feature": name, "importance": value, "correlation": correlation}
                for name, value, correlation in zip(imp.features, imp.importance, imp.correlation, strict=True)
            ],
        }
    return {
        **{k: v for k, v in vars(sweep).items() if k != "trials"},
        "rank": None if run is None else sweep.rank(run.run_id),
        "scored_trials": len(sweep.scored()),
        "trials": [vars(t) for t in sweep.scored() + [t for t in sweep.trials if t.metric_value is None]],
        "importance": importance,
    }


def build_summary(parts: Parts) -> dict[str, Any]:
    """Collect the run, the sweep (with its Pareto front when it has several objectives, and why this trial), the
    provenance and every number into one JSON-ready dict."""
    m, t, c = parts.metrics, parts.thresholds, parts.calibration
    labels = m.labels
    keep = thin_indices(t.thresholds.shape[0])
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "run": None if parts.source.run is None else vars(parts.source.run),
        "sweep": _sweep(parts),
        "provenance": provenance(parts.source, parts.predictions, parts.table_notes),
        "reproduced": parts.reproduced or not_checked("pass --verify to rerun it and compare"),
        "classes": labels,
        "accuracy": m.accuracy,
        "auroc": {"macro": m.auroc_macro, "micro": m.auroc_micro},
        "average_precision_macro": m.average_precision_macro,
        "averages": m.averages,
        "headline": headline_values(m),
        "uncertainty": _uncertainty(parts),
        "per_class": _per_class(parts),
        "confusion_matrix": {"counts": m.confusion, "row_normalized": m.confusion_normalized},
        "calibration": {
            "bins": c.bins,
            "binning": f"{c.bins} equal-width bins on [0, 1], right-closed (scikit-learn's calibration_curve)",
            "top_label": _reliability(c.top_label),
            "per_class": [_reliability(r) for r in c.per_class],
            "classwise_ece": c.classwise_ece,
            "brier": c.brier,
            "log_loss": c.log_loss,
        },
        "errors": {
            "top_confusions": parts.top_confusions,
            "most_confident": parts.confident_errors,
            "gallery": parts.gallery,
        },
        "thresholds": {
            "positive_class": t.positive_class,
            "best_f1": _point(t.best_f1),
            "target_precision": {"requested": parts.targets["precision"], "point": _point(t.for_precision)},
            "target_recall": {"requested": parts.targets["recall"], "point": _point(t.for_recall)},
            "reasons": t.reasons,
            "curve": {
                name: values[keep]
                for name, values in (
                    ("threshold", t.thresholds),
                    ("precision", t.precision),
                    ("recall", t.recall),
                    ("f1", t.f1),
                )
            },
        },
        "curves": {
            "roc": {str(lab): {"fpr": c.x, "tpr": c.y} for lab, c in zip(labels, m.roc_curves, strict=True)},
            "pr": {str(lab): {"recall": c.x, "precision": c.y} for lab, c in zip(labels, m.pr_curves, strict=True)},
        },
        "undefined": m.undefined,
        "notes": m.notes,
    }
    # Only a sweep with several objectives, or a trial asked for, adds these: a one-metric report stays as it was.
    for key, value in (("selection", front.selection(parts.source)), ("pareto", front.summary(parts.source))):
        if value is not None:
            summary[key] = value
    return dict(plain(summary))
