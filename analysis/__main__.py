"""``python -m analysis report`` explains a run's predictions; ``python -m analysis compare A B`` compares two runs
on the same test rows. Each writes an HTML, Markdown and JSON report. A sweep's report explains its best run, or
the trial ``--trial`` names, or the best along one of its metrics (``--metric``); ``compare --sweep NAME A B``
compares two trials of one sweep.

Exit codes: 0 report written; 1 the source could not be reached (the sweep's database, W&B's server); 2 bad input.
Each failure is one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import compare, pipeline
from analysis.report.render import check_output
from analysis.sources import fetch, verify
from analysis.sources.source import Source
from analysis.sources.trials import Pick
from analysis.stats import bootstrap

DEFAULT_SWEEPS_ROOT = Path("offline_sweeps")
DEFAULT_OUT = Path("reports")


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, but got {text}")
    return value


def _uncertainty_options(command: argparse.ArgumentParser, default: str) -> None:
    command.add_argument("--resamples", type=int, help=f"bootstrap resamples for the 95%% intervals ({default})")
    command.add_argument("--seed", type=int, default=bootstrap.SEED, help="seed of the bootstrap's draws (0)")
    command.add_argument("--sweeps-root", type=Path, default=DEFAULT_SWEEPS_ROOT, help="where offline sweeps live")
    command.add_argument(
        "--storage",
        help="a postgresql:// URL where offline sweeps run by agents on many hosts are recorded "
        "(default: $LOCALSWEEP_STORAGE, else SQLite files under --sweeps-root)",
    )
    command.add_argument(
        "--timeout",
        type=_seconds,
        default=fetch.WANDB_TIMEOUT_S,
        help=f"the most seconds to wait on W&B's server for a sweep ENTITY/PROJECT/SWEEP_ID, in all "
        f"(default {fetch.WANDB_TIMEOUT_S:g})",
    )


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main = argparse.ArgumentParser(prog="python -m analysis", description=(__doc__ or "").splitlines()[0])
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
    report.add_argument(
        "--trial",
        metavar="ID|NUMBER",
        help="with --sweep: explain this trial (its run id, or its number as `localsweep status` shows it)",
    )
    report.add_argument(
        "--metric", metavar="NAME", help="with --sweep: explain the best trial along this one of the sweep's metrics"
    )
    _uncertainty_options(
        report,
        f"default {bootstrap.RESAMPLES}, fewer above {pipeline.RESAMPLE_BUDGET // bootstrap.RESAMPLES:,} rows, "
        f"none above {pipeline.RESAMPLE_BUDGET // pipeline.MIN_RESAMPLES:,}; 0: none",
    )
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
    report.add_argument(
        "--verify",
        action="store_true",
        help="rerun the explained run (python -m localsweep rerun, or python -m trainer --rerun) and say whether "
        "it reproduced: identical, differs, or not checked",
    )
    pair = commands.add_parser(
        "compare", help="compare two runs on the same test rows: McNemar, paired bootstrap, per-class deltas"
    )
    for name in ("a", "b"):
        pair.add_argument(
            name,
            metavar=name.upper(),
            help="a sweep (its best run), an offline run directory, or a predictions file; with --sweep, a trial of "
            "that sweep (its run id or number)",
        )
    pair.add_argument(
        "--sweep",
        metavar="SWEEP",
        help="A and B are two trials of this sweep (an offline sweep's name or directory, or ENTITY/PROJECT/SWEEP_ID)",
    )
    _uncertainty_options(pair, f"default {bootstrap.RESAMPLES}; 0: none")
    pair.add_argument("--out", type=Path, help="output directory (default: reports/compare-<A>-vs-<B>)")
    return main


def _source(args: argparse.Namespace) -> Source:
    pick = Pick(args.trial, args.metric)
    if args.sweep is not None:
        return fetch.from_sweep(args.sweep, args.sweeps_root, args.storage, timeout=args.timeout, pick=pick)
    if not pick.default:
        given = "--run" if args.run is not None else "--predictions"
        raise ValueError(
            f"--trial and --metric pick a trial of a sweep, so they need --sweep, but got {given}; fix: pass "
            f"--sweep SWEEP, or drop --trial/--metric"
        )
    if args.run is not None:
        return fetch.from_run_dir(args.run)
    return fetch.from_predictions_file(args.predictions)


def _report(args: argparse.Namespace) -> int:
    source = _source(args)
    out = args.out or DEFAULT_OUT / (source.run.run_id if source.run else source.predictions_path.stem)
    check_output(out)  # before the work: a 10M-row report takes a while
    reproduced = None
    if args.verify:
        where = verify.Where(args.sweep, args.run, args.sweeps_root, args.storage)
        reproduced = verify.verify(source, where, out)
        print(f"reproduced: {reproduced['line']}")
    analysis = pipeline.analyse(
        source, args.positive_class, args.target_precision, args.target_recall, args.resamples, args.seed, reproduced
    )
    for kind, path in pipeline.write(analysis, out).items():
        print(f"{kind}: {path}")
    if args.log:
        summary = analysis.summary
        scalars = {
            **summary["headline"],
            "brier": summary["calibration"]["brier"],
            "log_loss": summary["calibration"]["log_loss"],
            "ece_top_label": summary["calibration"]["top_label"]["ece"],
        }
        logged = {k: v for k, v in scalars.items() if v is not None}
        run_id = fetch.log_to_wandb(source, analysis.predictions, analysis.metrics, logged, analysis.images)
        print(f"logged: wandb run {run_id} (job type analysis)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    if args.sweep is not None:
        a, b = (
            fetch.from_sweep(
                args.sweep,
                args.sweeps_root,
                args.storage,
                timeout=args.timeout,
                pick=Pick(spec, option=f"compare's {role}"),
            )
            for spec, role in ((args.a, "A"), (args.b, "B"))
        )
    else:
        a, b = (
            fetch.resolve(spec, args.sweeps_root, args.storage, f"compare's {role}", args.timeout)
            for spec, role in ((args.a, "A"), (args.b, "B"))
        )
    resamples = bootstrap.RESAMPLES if args.resamples is None else args.resamples
    if resamples < 0:
        raise ValueError(f"`--resamples >= 0` must hold, but got {resamples}; fix: pass e.g. 1000, or 0 for none")
    out = args.out or DEFAULT_OUT / f"compare-{compare.name_of(a)}-vs-{compare.name_of(b)}"
    check_output(out)
    result = compare.compare(a, b, resamples, args.seed)
    written = compare.write(result, out)  # first: a folder it cannot write is the one line printed
    for line in result.summary["verdict"]:
        print(line)
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def main(argv: list[str]) -> int:
    """Run the command line; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        return _report(args) if args.command == "report" else _compare(args)
    except ValueError as error:
        print(f"analysis: error: {error}", file=sys.stderr)
        return 2
    except fetch.SourceUnavailableError as error:
        print(f"analysis: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
