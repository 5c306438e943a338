"""Benchmark ``python -m analysis report``'s work on 10k, 1M and 10M rows x 10 classes, next to scikit-learn.

For each size, synthetic softmax predictions are written once to Parquet (and to CSV up to ``--csv-max``); then
each measurement runs in a fresh process (so peak RSS is its own):

- ``analysis``: ``analysis.pipeline.analyse`` + ``write`` on the file: read and validate, every metric, the
  threshold sweep, the six figures, the JSON/Markdown/HTML report (what the CLI does, minus start-up);
- ``metrics only``: ``analysis.metrics.compute_metrics`` on arrays already in memory;
- ``sklearn``: scikit-learn's own calls for the same numbers on the same arrays: ``confusion_matrix`` (twice:
  counts and normalised), ``precision_recall_fscore_support`` (per class + macro/micro/weighted),
  ``accuracy_score``, ``roc_auc_score`` one-vs-rest per class, macro and micro, ``average_precision_score`` per
  class.

Run: ``.venv/bin/python bench/bench_analysis.py`` (about 6 minutes on 2 cores; needs ~4 GB of disk in $TMPDIR).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 10


def write_predictions(n_rows: int, directory: Path, csv: bool) -> list[Path]:
    """Seeded synthetic predictions: softmax of noisy logits with the true class boosted (accuracy ~0.7)."""
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


def child(mode: str, path: Path) -> dict[str, float]:
    """One measurement in this process; returns seconds and peak RSS."""
    from analysis.predictions import read_predictions

    if mode == "analysis":
        from analysis.pipeline import analyse, write
        from analysis.source import Source

        start = time.perf_counter()
        write(analyse(Source(path, origin="benchmark")), Path(tempfile.mkdtemp()))
        seconds = time.perf_counter() - start
    else:
        from analysis.metrics import compute_metrics

        p = read_predictions(path)
        start = time.perf_counter()
        if mode == "metrics":
            compute_metrics(p.y_true, p.y_pred, p.proba, p.labels.tolist())
        else:
            sklearn_same_metrics(p.y_true, p.y_pred, p.proba)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def sklearn_same_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> None:
    """The numbers of ``compute_metrics`` straight from scikit-learn's public functions."""
    labels = list(range(proba.shape[1]))
    confusion_matrix(y_true, y_pred, labels=labels)
    confusion_matrix(y_true, y_pred, labels=labels, normalize="true")
    for average in (None, "macro", "micro", "weighted"):
        precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=np.nan)
    accuracy_score(y_true, y_pred)
    for average in (None, "macro", "micro"):
        roc_auc_score(y_true, proba, multi_class="ovr", labels=labels, average=average)
    average_precision_score(label_binarize(y_true, classes=labels), proba, average=None)


def measure(mode: str, path: Path) -> dict[str, float]:
    """Run ``child`` in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", mode, str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return dict(json.loads(result.stdout.splitlines()[-1]))


def main() -> None:
    """Write the data, measure every (size, format, mode), print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    parser.add_argument("--csv-max", type=int, default=1_000_000, help="also time CSV up to this many rows")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    print(
        "| rows | file | analysis (s) | analysis peak RSS (MiB) | metrics only (s) | sklearn same metrics (s) "
        "| sklearn peak RSS (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for n_rows in args.sizes:
            paths = write_predictions(n_rows, Path(directory), csv=n_rows <= args.csv_max)
            metrics, sklearn = measure("metrics", paths[0]), measure("sklearn", paths[0])
            for path in paths:
                full = measure("analysis", path)
                size = path.stat().st_size / 2**20
                print(
                    f"| {n_rows:,} | {path.suffix[1:]} ({size:,.0f} MiB) | {full['seconds']:.1f} | "
                    f"{full['peak_rss_mib']:,.0f} | {metrics['seconds']:.1f} | {sklearn['seconds']:.1f} | "
                    f"{sklearn['peak_rss_mib']:,.0f} |",
                    flush=True,
                )
            for path in paths:
                path.unlink()


if __name__ == "__main__":
    main()
