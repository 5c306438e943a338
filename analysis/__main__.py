"""``python -m analysis report``: explain a run's predictions in an HTML, Markdown and JSON report.

Exit codes: 0 report written; 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import fetch
from analysis.pipeline import analyse, write
from analysis.source import Source

DEFAULT_SWEEPS_ROOT = Path("offline_sweeps")
DEFAULT_OUT = Path("reports")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="build the report of a sweep's best run, a run, or a predictions file")
    where = report.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--sweep",
        metavar="SWEEP",
        help="an offline sweep (name under --sweeps-root, or its directory), else ENTITY/PROJECT/SWEEP_ID on W&B",
    )
    where.add_argument("--run", type=Path, metavar="RUN_DIR", help="an offline wandb run directory")
    where.add_argument("--predictions", type=Path, metavar="FILE", help="a predictions .csv or .parquet file")
    report.add_argument("--sweeps-root", type=Path, default=DEFAULT_SWEEPS_ROOT, help="where offline sweeps live")
    report.add_argument(
        "--positive-class",
        type=int,
        help="class for the threshold trade-off (default: class 1 if binary, else the class with the lowest F1)",
    )
    target = report.add_mutually_exclusive_group()
    target.add_argument("--target-precision", type=float, help="also find the threshold reaching this precision")
    target.add_argument("--target-recall", type=float, help="also find the threshold reaching this recall")
    report.add_argument("--out", type=Path, help="output directory (default: reports/<run id or file name>)")
    report.add_argument(
        "--log", action="store_true", help="also log the analysis to W&B as a run of job type 'analysis'"
    )
    return main


def _source(args: argparse.Namespace) -> Source:
    if args.sweep is not None:
        return fetch.from_sweep(args.sweep, args.sweeps_root)
    if args.run is not None:
        return fetch.from_run_dir(args.run)
    return fetch.from_predictions_file(args.predictions)


def main(argv: list[str]) -> int:
    """Run the command line; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        source = _source(args)
        analysis = analyse(source, args.positive_class, args.target_precision, args.target_recall)
    except ValueError as error:
        print(f"analysis: error: {error}", file=sys.stderr)
        return 2
    out = args.out or DEFAULT_OUT / (source.run.run_id if source.run else source.predictions_path.stem)
    paths = write(analysis, out)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if args.log:
        scalars = {
            "accuracy": analysis.metrics.accuracy,
            "auroc_macro": analysis.metrics.auroc_macro,
            "auroc_micro": analysis.metrics.auroc_micro,
        }
        run_id = fetch.log_to_wandb(source, analysis.predictions, analysis.metrics, scalars, analysis.images)
        print(f"logged: wandb run {run_id} (job type analysis)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
