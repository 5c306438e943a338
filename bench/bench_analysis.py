"""Benchmark ``python -m analysis report``'s work on 10k, 1M and 10M rows x 10 classes, next to scikit-learn.

For each size, seeded synthetic softmax predictions are written once to Parquet (and to CSV up to ``--csv-max``);
then every measurement runs in a fresh process (so its peak RSS is its own), the modes alternating, repeated
(``--repeats``, once above 1M rows), and the median reported with the range and the load average:

- ``ours``: ``analysis.stats.metrics.compute_metrics`` on arrays already in memory: the confusion matrix,
  precision/recall/F1 per class and averaged, accuracy, AUROC per class, macro and micro, average precision per
  class and macro, and the thinned ROC and PR curves of every class;
- ``sklearn``: scikit-learn's own calls for the same scalars on the same arrays: ``confusion_matrix``,
  ``precision_recall_fscore_support`` (per class, macro, micro, weighted), ``accuracy_score``, ``roc_auc_score``
  one-vs-rest (per class, macro, micro), ``average_precision_score`` per class;
- ``sklearn + curves``: the same plus ``roc_curve`` and ``precision_recall_curve`` per class (what the plots need);
- ``report``: ``analysis.pipeline.analyse`` + ``write`` on the file, what the CLI does minus start-up: read and
  validate, every metric, calibration, the bootstrap (default plan: 1000 resamples up to 20k rows, none above
  100k), the figures, the gallery's image check, the HTML/Markdown/JSON report;
- ``bootstrap``: ``analysis.stats.bootstrap.replicates`` alone (1000 resamples, with the ROC/PR bands).

Run: ``.venv/bin/python bench/bench_analysis.py`` (about 15 minutes on 2 cores; needs ~2 GB of disk in $TMPDIR).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 10
MODES = ("ours", "sklearn", "sklearn + curves", "report")


def write_predictions(n_rows: int, directory: Path, csv: bool) -> list[Path]:
    """Seeded synthetic predictions: softmax (float32, as Keras computes it) of noisy logits with the true class
    boosted (accuracy ~0.7), stored as float64."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, N_CLASSES, size=n_rows)
    logits = rng.normal(size=(n_rows, N_CLASSES)).astype(np.float32)
    logits[np.arange(n_rows), y_true] += 2.0
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    columns = {"index": np.arange(n_rows), "y_true": y_true, "y_pred": proba.argmax(axis=1)}
    columns |= {f"prob_{k}": proba[:, k].astype(np.float64) for k in range(N_CLASSES)}
    table = pa.table(columns)
    paths = [directory / f"p{n_rows}.parquet"]
    pq.write_table(table, paths[0], row_group_size=1 << 20)
    if csv:
        paths.append(directory / f"p{n_rows}.csv")
        pa_csv.write_csv(table, paths[1])
    return paths


def sklearn_same_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, curves: bool) -> None:
    """The numbers of ``compute_metrics`` straight from scikit-learn's public functions."""
    labels = list(range(proba.shape[1]))
    confusion_matrix(y_true, y_pred, labels=labels)
    for average in (None, "macro", "micro", "weighted"):
        precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=np.nan)
    accuracy_score(y_true, y_pred)
    for average in (None, "macro", "micro"):
        roc_auc_score(y_true, proba, multi_class="ovr", labels=labels, average=average)
    onehot = label_binarize(y_true, classes=labels)
    average_precision_score(onehot, proba, average=None)
    if curves:
        for k in labels:
            roc_curve(onehot[:, k], proba[:, k])
            precision_recall_curve(onehot[:, k], proba[:, k])


def child(mode: str, path: Path) -> dict[str, float]:
    """One measurement in this process; returns seconds and peak RSS."""
    from analysis.sources.predictions import read_predictions

    if mode == "report":
        from analysis.pipeline import analyse, write
        from analysis.sources.source import Source

        start = time.perf_counter()
        write(analyse(Source(path, origin="benchmark")), Path(tempfile.mkdtemp()))
        seconds = time.perf_counter() - start
    else:
        p = read_predictions(path)
        start = time.perf_counter()
        if mode == "ours":
            from analysis.stats.metrics import compute_metrics

            compute_metrics(p.y_true, p.y_pred, p.proba, p.labels.tolist())
        elif mode == "bootstrap":
            from analysis.stats.bootstrap import replicates, uncertainty

            uncertainty(replicates(p.y_true, p.y_pred, p.proba))
        else:
            sklearn_same_metrics(p.y_true, p.y_pred, p.proba, curves=mode == "sklearn + curves")
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory: ``VmHWM`` from /proc (Linux).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it over ``exec`` from the forking parent, so a child started
    by a parent that had just written 10M rows reported the parent's 2 GB whatever it did itself.
    """
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def measure(mode: str, path: Path) -> dict[str, float]:
    """Run ``child`` in a fresh interpreter; note the 1-minute load average before it."""
    command = [sys.executable, __file__, "--child", mode, str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return {**json.loads(result.stdout.splitlines()[-1]), "load": load}


def spread(values: list[float], digits: int = 2) -> str:
    """``median [min-max]``, or the one value.

    >>> spread([3.0, 1.0, 2.0]), spread([1.234])
    ('2.00 [1.00-3.00]', '1.23')
    """
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main() -> None:
    """Write the data, measure every (size, mode), print Markdown tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    parser.add_argument("--csv-max", type=int, default=1_000_000, help="also time the report on CSV up to this")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode (once above 1M rows)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    print(f"cores: {os.cpu_count()}; seconds: median [min-max] of the repeats; load: 1-minute load average\n")
    print(
        "| rows | ours (s) | sklearn (s) | ours / sklearn | sklearn + curves (s) | ours peak RSS (MiB) "
        "| sklearn peak RSS (MiB) | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    reports: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        for n_rows in args.sizes:
            paths = write_predictions(n_rows, Path(directory), csv=n_rows <= args.csv_max)
            repeats = args.repeats if n_rows <= 1_000_000 else 1
            runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
            for _ in range(repeats):
                for mode in MODES[:3]:
                    runs[mode].append(measure(mode, paths[0]))
            seconds = {mode: [r["seconds"] for r in found] for mode, found in runs.items()}
            ratio = statistics.median(seconds["ours"]) / statistics.median(seconds["sklearn"])
            loads = [r["load"] for found in runs.values() for r in found]
            print(
                f"| {n_rows:,} | {spread(seconds['ours'])} | {spread(seconds['sklearn'])} | {ratio:.3f} "
                f"| {spread(seconds['sklearn + curves'])} | {max(r['peak_rss_mib'] for r in runs['ours']):,.0f} "
                f"| {max(r['peak_rss_mib'] for r in runs['sklearn']):,.0f} | {spread(loads, 1)} |",
                flush=True,
            )
            for path in paths:
                full = [measure("report", path) for _ in range(repeats)]
                size = path.stat().st_size / 2**20
                reports.append(
                    f"| {n_rows:,} | {path.suffix[1:]} ({size:,.0f} MiB) | {spread([r['seconds'] for r in full])} "
                    f"| {max(r['peak_rss_mib'] for r in full):,.0f} | {spread([r['load'] for r in full], 1)} |"
                )
            if n_rows <= 100_000:
                boot = [measure("bootstrap", paths[0]) for _ in range(repeats)]
                reports.append(
                    f"| {n_rows:,} | bootstrap alone, 1000 resamples | {spread([r['seconds'] for r in boot])} "
                    f"| {max(r['peak_rss_mib'] for r in boot):,.0f} | {spread([r['load'] for r in boot], 1)} |"
                )
            for path in paths:
                path.unlink()
    print("\n| rows | file | report (s) | report peak RSS (MiB) | load |\n|---|---|---|---|---|")
    print("\n".join(reports))


if __name__ == "__main__":
    main()
