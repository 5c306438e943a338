"""``python -m localsweep run|resume|status|best|sync``: offline W&B sweeps from the command line.

Exit codes: 0 the sweep ended with at least one scored trial; 1 no trial succeeded (the first error is shown), the
sweep gave up after repeated failures, stopped on an I/O error or lost its lease, or ``sync`` cannot upload;
2 bad input: the YAML or options (nothing ran), a trial refused its parameters (exit code 2), or a finished trial
never logged the sweep's metric; 75 another controller is running the sweep; 130/143 stopped by SIGINT/SIGTERM
(trials whose wandb run finished are kept; continue with ``resume``).
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

import yaml

from localsweep import sync
from localsweep.controller import INTERRUPTED_BASE
from localsweep.lease import LeaseLostError, SweepBusyError
from localsweep.orphans import end_orphans
from localsweep.outcome import Ending
from localsweep.record import record_ending
from localsweep.report import Progress, controller_line, status_json, table, trial_json
from localsweep.store import DEFAULT_ROOT, SweepStore, locate_sweep
from localsweep.trial import FINISHED, RUNNING
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


def _delay(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, but got {text}")
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
    resume = commands.add_parser(
        "resume", help="continue a sweep: trials its last controller left are recorded, interrupted points rerun"
    )
    resume.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
    for sub in (run, resume):
        sub.add_argument("--count", type=_positive, help="start at most this many trials now")
        sub.add_argument("--workers", type=_positive, default=1, help="trials in parallel")
        sub.add_argument(
            "--kill-delay", type=_delay, default=30.0, help="seconds from asking a trial to stop to SIGKILL (>= 0)"
        )
        sub.add_argument("--max-initial-failures", type=_positive, default=5, help="give up after this many")
        sub.add_argument(
            "--trial-timeout",
            type=_seconds,
            help="end a trial running longer and record it crashed (default: no limit; kept for resume)",
        )
    for name, text in (
        ("status", "the controller (alive or dead) and every trial"),
        ("best", "the best trial"),
        ("sync", "upload the runs and make them a W&B sweep that `wandb agent` can continue"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
        if name != "sync":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        else:
            sub.add_argument("--project", help="W&B project (default: $WANDB_PROJECT, the YAML's, the runs')")
            sub.add_argument("--entity", help="W&B entity (default: $WANDB_ENTITY, the YAML's, the key's own)")
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


def _run(store: SweepStore, args: argparse.Namespace) -> int:
    """Run the sweep under its lease (the caller acquired it) until it ends; returns the exit code."""
    from localsweep.controller import Controller, RunOptions

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
    resume = f"python -m localsweep resume {store.name} --root {args.root}"
    try:
        ended = Controller(store, options, Progress(store)).run()
    except LeaseLostError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as err:
        # A full disk, a read-only or vanished sweep folder, a trial command that cannot start: each store
        # write is one transaction, so the store keeps everything recorded before the failure.
        print(f"\nerror: the sweep stopped ({store.directory}): {type(err).__name__}: {err}", file=sys.stderr)
        print(f"nothing recorded so far is lost; once that is fixed: {resume}", file=sys.stderr)
        return 1
    print(table(store, store.trials()))
    print(f"\nsweep {store.name} ended: {ended.reason}", file=sys.stderr)
    if ended.exit_code > INTERRUPTED_BASE:
        print(f"finished trials are kept; continue with: {resume}", file=sys.stderr)
    return ended.exit_code


def _locked(store: SweepStore) -> SweepStore:
    """``store`` once this process holds its lease (a dead controller's is taken over, and said so)."""
    taken = store.acquire_lease()
    if taken is not None:
        dead, why = taken
        print(
            f"taking over sweep {store.name} from its last controller (pid {dead.pid} on {dead.host}: {why})",
            file=sys.stderr,
        )
    return store


def _resume(args: argparse.Namespace) -> int:
    store = _locked(SweepStore.open(locate_sweep(args.name, args.root)))
    try:
        left = [t for t in store.trials() if t.state == RUNNING]
        end_orphans(store.sweep_id, left)  # none of them may still be writing when their runs are read
        recorded = [record_ending(store, t.run_id, Ending(process=None, interrupted=True))[0] for t in left]
        if recorded:
            finished = sum(t.state == FINISHED for t in recorded)
            print(
                f"the last controller left {len(recorded)} trial(s) running: {finished} had finished their wandb run "
                f"(recorded finished), {len(recorded) - finished} had not (recorded crashed, interrupted: they do "
                f"not count, and their grid points run again)",
                file=sys.stderr,
            )
        return _run(store, args)
    finally:
        store.release_lease()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _status(args: argparse.Namespace) -> int:
    store = SweepStore.open(locate_sweep(args.name, args.root))
    if args.json:
        _print_json(status_json(store))
    else:
        holder, dead = store.controller()
        print(f"sweep {store.name} ({store.source}, {store.config.get('method')}) in {store.directory}")
        print(controller_line(store))
        print(table(store, store.trials(), controller_alive=holder is not None and dead is None))
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
    try:
        sync_plan = sync.plan(store, args.project, args.entity)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    done = store.wandb_sweep
    if done is not None:
        later = [run_id for run_id in sync_plan.run_ids if run_id not in done["run_ids"]]
        print(
            f"sweep {store.name} was uploaded as W&B sweep {done['path']} ({len(done['run_ids'])} runs)",
            file=sys.stderr,
        )
        if later:
            print(f"{len(later)} trial(s) recorded since are not in it: {' '.join(later)}", file=sys.stderr)
        return 0
    config_path = store.directory / "wandb-sweep.yaml"
    config_path.write_text(yaml.safe_dump(store.config, sort_keys=False))
    missing = sync.missing_requirements()
    if missing:
        print(f"cannot upload sweep {store.name}: " + "; ".join(missing), file=sys.stderr)
        print("once that is fixed, `sync` runs the equivalent of:", file=sys.stderr)
        for argv in (sync_plan.upload_command(), sync_plan.sweep_command(config_path)):
            print(f"  {sync.describe(argv)}", file=sys.stderr)
        return 1
    _locked(store)
    try:
        upload = subprocess.run(sync_plan.upload_command(), env=sync_plan.upload_environment(), check=False)
        uploaded = upload.returncode
        if uploaded != 0:
            print(f"error: `wandb sync` failed (exit code {uploaded}): no W&B sweep was made", file=sys.stderr)
            return 1
        path = sync.create_sweep(sync_plan)
        store.record_wandb_sweep(path, sync_plan.run_ids)
    finally:
        store.release_lease()
    print(f"W&B sweep {path} holds the {len(sync_plan.run_ids)} runs of sweep {store.name}")
    print(f"continue the search online with: wandb agent {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            store = _locked(_create(args))
            try:
                return _run(store, args)
            finally:
                store.release_lease()
        handlers = {"resume": _resume, "status": _status, "best": _best, "sync": _sync}
        return handlers[args.command](args)
    except SweepConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except SweepBusyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again once the other controller has ended
    except (FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
