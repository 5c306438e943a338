"""``python -m analysis compare A B``: two models on the same test rows, with paired tests.

A and B are read like a report's source (a predictions file, an offline run, a sweep's best run, or two trials of
one sweep with ``--sweep``: then each side also says its value on each of the sweep's metrics); their rows are
matched by ``index`` and must be the same examples (``analysis.stats.paired.align``). Then: McNemar's test on
which rows each gets right, a paired bootstrap of accuracy, macro F1 and macro AUROC (the same resampled rows for
both), per-class differences, and the rows where the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.report import comparison
from analysis.report.render import write_report
from analysis.report.summary import plain, sha256, versions
from analysis.sources.predictions import Predictions, read_predictions
from analysis.sources.source import Source
from analysis.stats import bootstrap
from analysis.stats.metrics import Metrics, compute_metrics
from analysis.stats.paired import PAIRED_METRICS, McNemar, PairedDifference, align, mcnemar, paired_bootstrap

SCHEMA = "mnist-wandb-sweeps/analysis-compare/1"
SIGNIFICANCE = 0.05
DISAGREEMENTS_SHOWN = 20
PER_CLASS = ("precision", "recall", "f1", "auroc", "average_precision")


@dataclass(frozen=True)
class Comparison:
    """Everything one comparison report is made of."""

    summary: dict[str, Any]
    images: dict[str, bytes]


def name_of(source: Source) -> str:
    """A short name for a model: its run id, else its file name.

    Examples
    --------
    >>> name_of(Source(Path("runs/best.csv"), origin="file"))
    'best'
    """
    return source.run.run_id if source.run else source.predictions_path.stem


def sweep_trial(source: Source) -> dict[str, Any] | None:
    """The sweep trial a side is: the sweep, the trial's number, its value and goal on each of the sweep's metrics,
    whether it is on the Pareto front (``None`` with one metric); ``None`` for a side that is no sweep's trial.

    Examples
    --------
    >>> from analysis.sources.source import RunInfo, SweepInfo, TrialPoint
    >>> sweep = SweepInfo("s", "s", "acc", "maximize", ".", [], [TrialPoint("r", "finished", {}, 0.9)])
    >>> run = RunInfo("r", "r", "finished", {}, {}, ".")
    >>> sweep_trial(Source(Path("p.csv"), "test", run=run, sweep=sweep))
    {'sweep': 's', 'number': None, 'metrics': {'acc': {'goal': 'maximize', 'value': 0.9}}, 'on_front': None}
    """
    sweep, run = source.sweep, source.run
    if sweep is None or run is None:
        return None
    number = None if source.selection is None else source.selection.number
    point = None if source.pareto is None else source.pareto.point(run.run_id)
    value = next((t.metric_value for t in sweep.trials if t.run_id == run.run_id), None)
    metrics: dict[str, dict[str, Any]] = {sweep.metric_name: {"goal": sweep.goal, "value": value}}
    if source.pareto is not None and point is not None:
        pairs = zip(source.pareto.objectives, point.values, strict=True)
        metrics = {o.name: {"goal": o.goal, "value": v} for o, v in pairs}
        return {"sweep": sweep.name, "number": point.number, "metrics": metrics, "on_front": point.on_front}
    return {"sweep": sweep.name, "number": number, "metrics": metrics, "on_front": None}


def _side(source: Source, predictions: Predictions) -> dict[str, Any]:
    return {
        "name": name_of(source),
        "origin": source.origin,
        "run": None if source.run is None else {"run_id": source.run.run_id, "config": source.run.config},
        "predictions_file": str(source.predictions_path),
        "sha256": sha256(source.predictions_path),
        "rows": predictions.n_rows,
        "notes": source.notes,
        "trial": sweep_trial(source),
    }


def _scalars(metrics: Metrics) -> dict[str, float]:
    return {
        "accuracy": metrics.accuracy,
        "f1_macro": metrics.averages["macro"]["f1"],
        "auroc_macro": metrics.auroc_macro,
    }


def verdict(names: tuple[str, str], test: McNemar, differences: list[PairedDifference]) -> list[str]:
    """One line per test: which model is better, by how much, and whether the test can tell.

    Examples
    --------
    >>> test = McNemar(80, 2, 15, 3, 0.0023, 8.47, 0.0036)
    >>> verdict(("a", "b"), test, [])
    ['McNemar (exact): b gets 15 rows right that a misses, a 2 that b misses; p = 0.0023 < 0.05: b is more \
accurate']
    >>> verdict(("a", "b"), McNemar(80, 0, 40, 3, 1.8e-12, 38.0, 7e-10), [])[0].split("; ")[1]
    'p = 1.8e-12 < 0.05: b is more accurate'
    >>> nan = float("nan")
    >>> verdict(("a", "b"), test, [PairedDifference("auroc_macro", nan, nan, nan, nan, nan, nan, np.empty(0))])[1]
    'paired bootstrap: auroc_macro is undefined for a and b on all rows (e.g. a class absent from y_true has no \
AUROC): nothing to compare'

    """
    a, b = names
    lines = []
    if np.isnan(test.p_exact):
        lines.append(f"McNemar: {a} and {b} are right and wrong on exactly the same rows; nothing to test")
    else:
        counts = (
            f"{b} gets {test.b_only} rows right that {a} misses, {a} {test.a_only} that {b} misses; "
            f"p = {test.p_exact:.3g}"
        )
        if test.p_exact < SIGNIFICANCE:
            better = b if test.b_only > test.a_only else a
            lines.append(f"McNemar (exact): {counts} < {SIGNIFICANCE}: {better} is more accurate")
        else:
            lines.append(f"McNemar (exact): {counts} >= {SIGNIFICANCE}: no significant difference in accuracy")
    for d in differences:
        if np.isnan(d.difference):
            which = " and ".join(name for name, value in ((a, d.a), (b, d.b)) if np.isnan(value))
            lines.append(
                f"paired bootstrap: {d.metric} is undefined for {which} on all rows (e.g. a class absent from "
                f"y_true has no AUROC): nothing to compare"
            )
            continue
        if np.isnan(d.low):
            lines.append(
                f"paired bootstrap: {d.metric} {b} - {a} = {d.difference:+.4f}, but it is undefined in every "
                f"resample: no interval"
            )
            continue
        change = f"{d.metric} {b} - {a} = {d.difference:+.4f}, 95% CI [{d.low:+.4f}, {d.high:+.4f}]"
        if d.low > 0 or d.high < 0:
            lines.append(f"paired bootstrap: {change}: {b if d.low > 0 else a} is better")
        else:
            lines.append(f"paired bootstrap: {change}: the interval includes 0, no significant difference")
    return lines


def _disagreements(a: Predictions, b: Predictions) -> dict[str, Any]:
    differ = np.flatnonzero(a.y_pred != b.y_pred)
    rows = np.arange(a.n_rows)
    p_true_a, p_true_b = a.proba[rows, a.y_true], b.proba[rows, b.y_true]
    shown = differ[np.argsort(-np.abs(p_true_a - p_true_b)[differ], kind="stable")[:DISAGREEMENTS_SHOWN]]
    return {
        "rows": int(differ.size),
        "shown": [
            {
                "index": int(a.index[r]),
                "y_true": int(a.labels[a.y_true[r]]),
                "y_pred_a": int(a.labels[a.y_pred[r]]),
                "y_pred_b": int(b.labels[b.y_pred[r]]),
                "probability_true_a": float(p_true_a[r]),
                "probability_true_b": float(p_true_b[r]),
            }
            for r in shown
        ],
    }


def compare(
    source_a: Source,
    source_b: Source,
    resamples: int = bootstrap.RESAMPLES,
    seed: int = bootstrap.SEED,
    confidence: float = bootstrap.CONFIDENCE,
) -> Comparison:
    """Compare two models' predictions on the same rows.

    Raises
    ------
    ValueError
        If a table is invalid, or the two tables are not the same examples (``align``).
    """
    names = (name_of(source_a), name_of(source_b))
    if names[0] == names[1]:
        names = (f"A: {names[0]}", f"B: {names[1]}")
    raw_a, raw_b = read_predictions(source_a.predictions_path), read_predictions(source_b.predictions_path)
    a, b = align(raw_a, raw_b, names)
    labels = a.labels.tolist()
    metrics = [compute_metrics(t.y_true, t.y_pred, t.proba, labels) for t in (a, b)]
    test = mcnemar(a.y_pred == a.y_true, b.y_pred == b.y_true)
    differences = []
    if resamples:
        differences = paired_bootstrap(a, b, _scalars(metrics[0]), _scalars(metrics[1]), resamples, seed, confidence)
    per_class = [
        {
            "class": label,
            "support": metrics[0].support[k],
            **{
                name: {
                    "a": getattr(metrics[0], name)[k],
                    "b": getattr(metrics[1], name)[k],
                    "delta": getattr(metrics[1], name)[k] - getattr(metrics[0], name)[k],
                }
                for name in PER_CLASS
            },
        }
        for k, label in enumerate(labels)
    ]
    summary = {
        "schema": SCHEMA,
        "names": list(names),
        "a": _side(source_a, raw_a),
        "b": _side(source_b, raw_b),
        "rows": a.n_rows,
        "classes": labels,
        "verdict": verdict(names, test, differences),
        "mcnemar": {
            **vars(test),
            "test": "exact: two-sided binomial test of the discordant rows at 1/2 (scipy.stats.binomtest); "
            "chi2: with continuity correction, 1 degree of freedom (scipy.stats.chi2)",
        },
        "paired_bootstrap": {
            "method": (
                f"{resamples} resamples of the rows (numpy default_rng({seed})), the same rows for both models; "
                f"{confidence:.0%} percentile interval of B - A"
            )
            if resamples
            else "skipped: --resamples 0",
            "metrics": list(PAIRED_METRICS) if resamples else [],
            "differences": [{k: v for k, v in vars(d).items() if k != "resampled"} for d in differences],
        },
        "per_class": per_class,
        "disagreements": _disagreements(a, b),
        "versions": versions(),
    }
    images = {"per_class_deltas": comparison.per_class_deltas(per_class, names)}
    if differences:
        images["bootstrap_differences"] = comparison.difference_histograms(differences, names)
    return Comparison(dict(plain(summary)), images)


def write(result: Comparison, directory: Path) -> dict[str, Path]:
    """Write the comparison's report files into ``directory``."""
    summary = result.summary
    title = f"Comparison: {summary['names'][0]} vs {summary['names'][1]}"
    return write_report(directory, title, comparison.sections(summary), summary, result.images)
