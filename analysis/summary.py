"""Every number of a report as one JSON-ready dict (``nan`` becomes ``null``, with its reason alongside)."""

from __future__ import annotations

import hashlib
import math
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from analysis.metrics import Metrics, thin_indices
from analysis.predictions import Predictions
from analysis.source import Source
from analysis.thresholds import OperatingPoint, ThresholdAnalysis

SCHEMA = "mnist-wandb-sweeps/analysis-report/1"
_VERSIONED = ("numpy", "scikit-learn", "matplotlib", "pyarrow", "wandb")


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


def confident_errors(predictions: Predictions, count: int = 10) -> list[dict[str, Any]]:
    """The ``count`` misclassified rows with the highest probability on the wrong class.

    Examples
    --------
    >>> from analysis.predictions import Predictions
    >>> p = Predictions(np.array([0, 1]), np.array([7, 8]), np.array([0, 1]), np.array([1, 1]),
    ...                 np.array([[0.1, 0.9], [0.2, 0.8]]))
    >>> confident_errors(p)
    [{'index': 7, 'y_true': 0, 'y_pred': 1, 'probability': 0.9}]
    """
    wrong = np.flatnonzero(predictions.y_true != predictions.y_pred)
    confidence = predictions.proba[wrong, predictions.y_pred[wrong]]
    top = wrong[np.argsort(-confidence, kind="stable")[:count]]
    return [
        {
            "index": int(predictions.index[row]),
            "y_true": int(predictions.labels[predictions.y_true[row]]),
            "y_pred": int(predictions.labels[predictions.y_pred[row]]),
            "probability": float(predictions.proba[row, predictions.y_pred[row]]),
        }
        for row in top
    ]


def _point(point: OperatingPoint | None) -> dict[str, float] | None:
    return None if point is None else vars(point)


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except ModuleNotFoundError:
            found[name] = "not installed"
    return found


def build_summary(
    source: Source,
    predictions: Predictions,
    metrics: Metrics,
    thresholds: ThresholdAnalysis,
    targets: dict[str, float | None],
) -> dict[str, Any]:
    """Collect the run, the sweep, the provenance and every metric into one JSON-ready dict."""
    labels = metrics.labels
    keep = thin_indices(thresholds.thresholds.shape[0])
    sweep = source.sweep
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "run": None if source.run is None else vars(source.run),
        "sweep": None,
        "provenance": {
            "origin": source.origin,
            "predictions_file": str(source.predictions_path),
            "sha256": sha256(source.predictions_path),
            "bytes": source.predictions_path.stat().st_size,
            "rows": predictions.n_rows,
            "artifact": source.artifact,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(["python -m analysis", *sys.argv[1:]]),
            "versions": _versions(),
            "notes": source.notes,
        },
        "classes": labels,
        "accuracy": metrics.accuracy,
        "auroc": {"macro": metrics.auroc_macro, "micro": metrics.auroc_micro},
        "averages": metrics.averages,
        "per_class": [
            {
                "class": label,
                "precision": metrics.precision[k],
                "recall": metrics.recall[k],
                "f1": metrics.f1[k],
                "support": metrics.support[k],
                "auroc": metrics.auroc[k],
                "average_precision": metrics.average_precision[k],
            }
            for k, label in enumerate(labels)
        ],
        "confusion_matrix": {"counts": metrics.confusion, "row_normalized": metrics.confusion_normalized},
        "thresholds": {
            "positive_class": thresholds.positive_class,
            "best_f1": _point(thresholds.best_f1),
            "target_precision": {"requested": targets["precision"], "point": _point(thresholds.for_precision)},
            "target_recall": {"requested": targets["recall"], "point": _point(thresholds.for_recall)},
            "reasons": thresholds.reasons,
            "curve": {
                name: values[keep]
                for name, values in (
                    ("threshold", thresholds.thresholds),
                    ("precision", thresholds.precision),
                    ("recall", thresholds.recall),
                    ("f1", thresholds.f1),
                )
            },
        },
        "curves": {
            "roc": {str(lab): {"fpr": c.x, "tpr": c.y} for lab, c in zip(labels, metrics.roc_curves, strict=True)},
            "pr": {
                str(lab): {"recall": c.x, "precision": c.y} for lab, c in zip(labels, metrics.pr_curves, strict=True)
            },
        },
        "most_confident_errors": confident_errors(predictions),
        "undefined": metrics.undefined,
        "notes": metrics.notes,
    }
    if sweep is not None:
        summary["sweep"] = {
            **{k: v for k, v in vars(sweep).items() if k != "trials"},
            "rank": None if source.run is None else sweep.rank(source.run.run_id),
            "scored_trials": len(sweep.scored()),
            "trials": [vars(t) for t in sweep.scored() + [t for t in sweep.trials if t.metric_value is None]],
        }
    return plain(summary)
