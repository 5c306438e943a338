"""``python -m localsweep run|resume|status|best|sync``: offline W&B sweeps from the command line.

Exit codes: 0 done; 1 the sweep gave up (repeated failures), stopped on an I/O error, or ``sync`` cannot upload;
2 bad input (nothing ran); 130 interrupted (continue with ``resume``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localsweep import sync
from localsweep.orphans import end_orphans
from localsweep.report import Progress, status_json, table, trial_json
from localsweep.store import DEFAULT_ROOT, SweepStore, Trial, locate_sweep
from localsweep.validate import SweepConfigError, check_sweep_config, load_sweep_config

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, but got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, but got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localsweep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start a new sweep from a W&B sweep YAML")
    run.add_argument("sweep_yaml", type=Path)
    run.add_argument("--name", help="sweep name (default: <yaml name>-<date>-<time>)")
    run.add_argument("--seed", type=int, help="make random/bayes suggestions reproducible")
    run.add_argument("--function", help="pooled mode: 'module:callable' run in long-lived workers")
    run.add_argument("--max-trials-per-worker", type=_positive, default=20, help="pooled mode recycling")
    resume = commands.add_parser("resume", help="continue a sweep (crashed/interrupted ones are recorded)")
    resume.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
    for sub in (run, resume):
        sub.add_argument("--count", type=_positive, help="start at most this many trials now")
        sub.add_argument("--workers", type=_positive, default=1, help="trials in parallel")
        sub.add_argument("--kill-delay", type=float, default=30.0, help="seconds from SIGTERM to SIGKILL")
        sub.add_argument("--max-initial-failures", type=_positive, default=5, help="give up after this many")
        sub.add_argument(
            "--trial-timeout",
            type=_seconds,
            help="end a trial running longer and record it crashed (default: no limit; kept for resume)",
        )
    for name, text in (("status", "every trial"), ("best", "the best trial"), ("sync", "upload with wandb sync")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
        if name != "sync":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
    for sub in commands.choices.values():
        sub.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"sweeps folder (default {DEFAULT_ROOT})")
    return parser


def _check_function(reference: str) -> list[str]:
    module, _, attribute = reference.partition(":")
    if not module or not attribute:
        return [f"--function: must look like 'package.module:callable', but got {reference!r}"]
    # Only locate the module: importing it here would load TensorFlow into the controller.
    if importlib.util.find_spec(module) is None:
        return [f"--function: module {module!r} is not importable from {Path.cwd()}"]
    return []


def _create(args: argparse.Namespace) -> SweepStore:
    config = load_sweep_config(args.sweep_yaml)
    problems = _check_function(args.function) if args.function else []
    try:
        check_sweep_config(config, str(args.sweep_yaml), pooled=bool(args.function), workdir=Path.cwd())
    except SweepConfigError as err:
        problems = err.violations + problems
    name = args.name or f"{args.sweep_yaml.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not _NAME.match(name):
        problems.append(f"--name: letters, digits, '.', '_' and '-' only, but got {name!r}")
    if problems:
        raise SweepConfigError(str(args.sweep_yaml), problems)
    from wandb.sdk.lib.runid import generate_id

    settings = {"seed": args.seed, "function": args.function, "workdir": str(Path.cwd().resolve())}
    return SweepStore.create(
        args.root / name,
        name=name,
        sweep_id=generate_id(),
        config=config,
        source=str(args.sweep_yaml),
        settings={**settings, "max_trials_per_worker": args.max_trials_per_worker, "trial_timeout": args.trial_timeout},
    )


def _run(store: SweepStore, args: argparse.Namespace, interrupted: list[Trial] | None = None) -> int:
    from localsweep.controller import Controller, RunOptions, SweepInterruptedError

    if args.trial_timeout is not None and args.trial_timeout != store.settings.get("trial_timeout"):
        store.update_settings(trial_timeout=args.trial_timeout)
    settings = store.settings
    options = RunOptions(
        workers=args.workers,
        count=args.count,
        seed=settings["seed"],
        function=settings["function"],
        max_trials_per_worker=settings["max_trials_per_worker"],
        kill_delay=args.kill_delay,
        max_initial_failures=args.max_initial_failures,
        trial_timeout=settings.get("trial_timeout"),
        workdir=Path(settings["workdir"]),
    )
    controller = Controller(store, options, Progress(store))
    resume = f"python -m localsweep resume {store.name} --root {args.root}"
    try:
        salvaged = controller.salvage(interrupted or [])
        if salvaged:
            print(f"{len(salvaged)} interrupted trial(s) had finished their run: recorded finished", file=sys.stderr)
        reason = controller.run()
    except SweepInterruptedError as err:
        print(f"\n{err}: {resume}", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as err:
        # A full disk, a read-only or vanished sweep folder, a trial command that cannot start: each store
        # write is one transaction, so the store keeps everything recorded before the failure.
        print(f"\nerror: the sweep stopped ({store.directory}): {type(err).__name__}: {err}", file=sys.stderr)
        print(f"nothing recorded so far is lost; once that is fixed: {resume}", file=sys.stderr)
        return 1
    print(table(store, store.trials()))
    print(f"\nsweep {store.name} ended: {reason}", file=sys.stderr)
    return 1 if controller.gave_up else 0


def _resume(args: argparse.Namespace) -> int:
    store = SweepStore.open(locate_sweep(args.name, args.root))
    interrupted = store.mark_interrupted(requeue=store.config.get("method") == "grid")
    end_orphans(store.sweep_id, interrupted)
    if interrupted:
        print(f"{len(interrupted)} interrupted trial(s) recorded as crashed", file=sys.stderr)
    return _run(store, args, interrupted)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _status(args: argparse.Namespace) -> int:
    store = SweepStore.open(locate_sweep(args.name, args.root))
    if args.json:
        _print_json(status_json(store))
    else:
        print(f"sweep {store.name} ({store.source}, {store.config.get('method')}) in {store.directory}")
        print(table(store, store.trials()))
    return 0


def _best(args: argparse.Namespace) -> int:
    store = SweepStore.open(locate_sweep(args.name, args.root))
    best = store.best_trial()
    if best is None:
        print(f"sweep {store.name} has no finished trial with a {store.metric_name} value yet", file=sys.stderr)
        return 1
    if args.json:
        _print_json(trial_json(store, best))
    else:
        print(f"best of {store.name}: {best.run_id} {store.metric_name}={best.metric_value:.6g} ({best.state})")
        print(f"run dir: {best.run_dir}")
        print("config: " + " ".join(f"{k}={v}" for k, v in best.config.items()))
    return 0


def _sync(args: argparse.Namespace) -> int:
    store = SweepStore.open(locate_sweep(args.name, args.root))
    argv = sync.sync_command(store)
    missing = sync.missing_requirements()
    if missing:
        print(f"cannot upload sweep {store.name}: " + "; ".join(missing), file=sys.stderr)
        print(f"once that is fixed, this would run:\n  {sync.describe(argv)}", file=sys.stderr)
        return 1
    return subprocess.run(argv, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(_create(args), args)
        handlers = {"resume": _resume, "status": _status, "best": _best, "sync": _sync}
        return handlers[args.command](args)
    except SweepConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
