"""``python -m localsweep run|resume|status|best|sync|rerun|dashboard``: offline W&B sweeps from the command line.

Exit codes: 0 the sweep ended with at least one scored trial; 1 no trial succeeded (the first error is shown), the
sweep gave up after repeated failures, stopped on an I/O error or lost its lease, or ``sync`` cannot upload;
2 bad input: the YAML or options (nothing ran), a trial refused its parameters (exit code 2), or a finished trial
never logged the sweep's metric; 75 another controller is running the sweep; 130/143 stopped by SIGINT/SIGTERM
(trials whose wandb run finished are kept; continue with ``resume``). ``rerun``: 0 identical, 1 differs, 2 cannot
rerun (``localsweep/cli/rerun.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import sqlite3
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from contract.objectives import is_multi_objective
from localsweep.bridge.server import SYNC_TIMEOUT_S
from localsweep.cli import rerun as rerun_command
from localsweep.core import pareto
from localsweep.core.trial import CRASHED, FINISHED, RUNNING
from localsweep.dashboard.serve import DEFAULT_HOST as DASHBOARD_HOST
from localsweep.dashboard.serve import DEFAULT_PORT as DASHBOARD_PORT
from localsweep.dashboard.serve import TOKEN_VAR
from localsweep.outcome.explain import headline
from localsweep.run.progress import Progress, controller_line, error_notes, finite, status_json, table, trial_json
from localsweep.run.signals import leave_if_stopped
from localsweep.search.config_error import SweepConfigError
from localsweep.storage import DatabaseUnavailableError
from localsweep.storage.lease import SweepBusyError
from localsweep.storage.store import SweepStore
from localsweep.storage.view import DEFAULT_ROOT, STORAGE_VAR, Location, SweepView, default_storage, find_sweep

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")  # 60: a PostgreSQL schema name is ls_<name>, 63 at most
_STAMP = "%Y%m%d-%H%M%S"


def default_name(sweep_yaml: Path, now: time.struct_time) -> str:
    """The name of a sweep started without ``--name``: the YAML file's name made valid (accents dropped, other
    characters that a name may not hold turned into ``-``, shortened), then the date and time.

    >>> default_name(Path("sweeps/my study (v2).yaml"), time.strptime("20260102-030405", _STAMP))
    'my-study-v2-20260102-030405'
    >>> default_name(Path("études.yaml"), time.strptime("20260102-030405", _STAMP))
    'etudes-20260102-030405'
    """
    stamp = time.strftime(_STAMP, now)
    ascii_stem = unicodedata.normalize("NFKD", sweep_yaml.stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-._")
    stem = stem[: 60 - len(stamp) - 1].rstrip("-._")
    return f"{stem}-{stamp}" if stem else f"sweep-{stamp}"


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
    create = commands.add_parser(
        "create", help="record a new sweep from a W&B sweep YAML without running it (agents then join it)"
    )
    run = commands.add_parser("run", help="start a new sweep from a W&B sweep YAML and run it here")
    for sub in (create, run):
        sub.add_argument("sweep_yaml", type=Path)
        sub.add_argument("--name", help="sweep name (default: <yaml name>-<date>-<time>)")
        sub.add_argument("--seed", type=int, help="make random/bayes/optuna suggestions reproducible")
        sub.add_argument(
            "--distinct",
            action="store_true",
            help="never run a configuration twice; end when the discrete space is done",
        )
        sub.add_argument(
            "--prior-sweep",
            action="append",
            default=[],
            metavar="NAME",
            help="warm start: the search knows the finished trials of this earlier sweep (repeatable)",
        )
        sub.add_argument("--function", help="pooled mode: 'module:callable' run in long-lived workers")
        sub.add_argument("--max-trials-per-worker", type=_positive, default=20, help="pooled mode recycling")
        sub.add_argument(
            "--trial-timeout",
            type=_seconds,
            help="end a trial running longer and record it crashed (default: no limit; kept for resume and agents)",
        )
    create.add_argument(
        "--exist-ok",
        action="store_true",
        help="succeed when a sweep of this name with the same YAML is recorded already (one create per agent)",
    )
    resume = commands.add_parser(
        "resume", help="continue a sweep: trials its last controller left are recorded, interrupted points rerun"
    )
    resume.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
    resume.add_argument(
        "--retry-crashed", action="store_true", help="run the crashed trials' parameters again (the old ones are kept)"
    )
    agent = commands.add_parser(
        "agent",
        help="join a sweep from any host (with --storage postgresql://...): run its trials, take over its "
        "controller role when the holder dies",
    )
    agent.add_argument("name", help="sweep name")
    for sub in (run, resume, agent):
        sub.add_argument("--count", type=_positive, help="take at most this many trials (this process)")
        sub.add_argument("--workers", type=_positive, default=1, help="trials in parallel")
        sub.add_argument(
            "--kill-delay", type=_delay, default=30.0, help="seconds from asking a trial to stop to SIGKILL (>= 0)"
        )
        sub.add_argument("--max-initial-failures", type=_positive, default=5, help="give up after this many")
        if sub is not run:
            sub.add_argument("--trial-timeout", type=_seconds, help="replace the sweep's trial time limit")
    for name, text in (
        ("status", "the controller (alive or dead) and every trial"),
        ("best", "the best trial"),
        ("sync", "upload the runs and make them a W&B sweep that `wandb agent` can continue"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", nargs="?", help="sweep name (default: the newest sweep)")
        if name != "sync":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "best":
            sub.add_argument("--metric", help="the best along this one of the sweep's metrics (several: Pareto front)")
        else:
            sub.add_argument("--project", help="W&B project (default: $WANDB_PROJECT, the YAML's, the runs')")
            sub.add_argument(
                "--entity", help="W&B entity (default: $WANDB_ENTITY, the YAML's, the runs' recorded one, the key's)"
            )
            sub.add_argument(
                "--timeout",
                type=_seconds,
                default=SYNC_TIMEOUT_S,
                help="the most seconds sync waits on the W&B server in all, uploads included (default "
                f"{SYNC_TIMEOUT_S:g}); then it says what was and was not uploaded",
            )
    rerun_command.add_parser(commands)
    dashboard = commands.add_parser(
        "dashboard", help="watch sweeps live in a web page served here (read-only; loopback only unless --host)"
    )
    dashboard.add_argument("name", nargs="?", help="one sweep (default: every sweep under --root or in --storage)")
    dashboard.add_argument(
        "--host",
        default=DASHBOARD_HOST,
        help=f"the address to listen on (default {DASHBOARD_HOST}: this machine only); any other needs the token",
    )
    dashboard.add_argument(
        "--port", type=int, default=DASHBOARD_PORT, help=f"default {DASHBOARD_PORT}; 0: any free one"
    )
    dashboard.add_argument(
        "--token",
        help=f"required of every request (default ${TOKEN_VAR}; off the loopback one is generated and printed once)",
    )
    for sub in commands.choices.values():
        sub.add_argument(
            "--root", type=Path, default=DEFAULT_ROOT, help=f"this host's sweeps folder (default {DEFAULT_ROOT})"
        )
        sub.add_argument(
            "--storage",
            default=default_storage(),
            help=f"where sweeps are recorded: a postgresql:// URL shared by agents on many hosts (default: "
            f"${STORAGE_VAR}, else a SQLite file in each sweep's folder)",
        )
    return parser


def _check_function(reference: str) -> list[str]:
    module, _, attribute = reference.partition(":")
    if not module or not attribute:
        return [f"--function: must look like 'package.module:callable', but got {reference!r}"]
    # Only locate the module: importing it here would load TensorFlow into the controller.
    if importlib.util.find_spec(module) is None:
        return [f"--function: module {module!r} is not importable from {Path.cwd()}"]
    return []


def _create_or_find(args: argparse.Namespace) -> SweepStore:
    from localsweep.search.validate import load_sweep_config

    """:func:`_create`, or the sweep of that name when one was recorded from the same YAML (another agent's create
    won the race); a sweep of that name from another YAML is still refused."""
    try:
        return _create(args)
    except FileExistsError:
        if args.name is None:
            raise
        store = SweepStore.connect(Location(args.name, args.root, args.storage))
        if store.config != load_sweep_config(args.sweep_yaml):
            raise FileExistsError(
                f"sweep {args.name!r} exists with a different search (recorded from {store.source}), "
                f"not the one in {args.sweep_yaml}: choose another --name"
            ) from None
        return store


def _create(args: argparse.Namespace) -> SweepStore:
    from localsweep.search import distinct, suggest
    from localsweep.search.validate import check_sweep_config, load_sweep_config

    leave_if_stopped()  # a signal during those imports (W&B's engine and SciPy: a second of a controller's start)
    config = load_sweep_config(args.sweep_yaml)
    problems = _check_function(args.function) if args.function else []
    try:
        check_sweep_config(config, str(args.sweep_yaml), pooled=bool(args.function), workdir=Path.cwd())
    except SweepConfigError as err:
        problems = err.violations + problems
    if args.distinct and not problems:
        problems += distinct.violations(config)
    name = args.name or default_name(args.sweep_yaml, time.localtime())
    if not _NAME.match(name):
        problems.append(f"--name: at most 60 letters, digits, '.', '_' and '-', but got {name!r}")
    if problems:
        raise SweepConfigError(str(args.sweep_yaml), problems)
    from wandb.sdk.lib.runid import generate_id

    settings, notes = suggest.new_settings(
        config,
        seed=args.seed,
        distinct=args.distinct,
        prior_sweeps=args.prior_sweep,
        open_sweep=lambda name: _view(args, name),
        workdir=Path.cwd(),
    )
    for note in notes:
        print(note, file=sys.stderr)
    settings |= {"function": args.function, "workdir": str(Path.cwd().resolve())}
    if args.name is None:
        print(f"sweep name: {name} (made from {args.sweep_yaml.name}; --name chooses another)", file=sys.stderr)
    return SweepStore.create(
        args.root / name,
        name=name,
        sweep_id=generate_id(),
        config=config,
        source=str(args.sweep_yaml),
        settings={**settings, "max_trials_per_worker": args.max_trials_per_worker, "trial_timeout": args.trial_timeout},
        storage=args.storage,
    )


def _run(store: SweepStore, args: argparse.Namespace, workdir: Path | None = None) -> int:
    """Run an agent of the sweep until it ends; returns the exit code. ``workdir``: where trials start (default:
    the one the sweep was created in)."""
    from localsweep.run.agent import INTERRUPTED_BASE, Agent, RunOptions
    from localsweep.search import suggest

    if args.trial_timeout is not None and args.trial_timeout != store.settings.get("trial_timeout"):
        store.update_settings(trial_timeout=args.trial_timeout)
    settings = store.settings
    options = RunOptions(
        workers=args.workers,
        count=args.count,
        search=suggest.SearchOptions.from_settings(settings),
        function=settings["function"],
        max_trials_per_worker=settings["max_trials_per_worker"],
        kill_delay=args.kill_delay,
        max_initial_failures=args.max_initial_failures,
        trial_timeout=settings.get("trial_timeout"),
        workdir=workdir or Path(settings["workdir"]),
    )
    where = f" --storage {_public(args.storage)}" if args.storage else ""
    resume = f"python -m localsweep resume {store.name} --root {args.root}{where}"
    try:
        ended = Agent(store, options, Progress(store)).run()
    except (OSError, sqlite3.Error, DatabaseUnavailableError) as err:
        # A full disk, a read-only or vanished sweep folder, a trial command that cannot start, a database gone
        # for good: each store write is one transaction, so the store keeps everything recorded before the failure.
        print(f"\nerror: the sweep stopped ({store.directory}): {type(err).__name__}: {err}", file=sys.stderr)
        print(f"nothing recorded so far is lost; once that is fixed: {resume}", file=sys.stderr)
        return 1
    trials = store.trials()
    print(table(store, trials))
    if errors := error_notes(trials):
        print(errors)
    print(f"\nsweep {store.name} ended: {ended.reason}", file=sys.stderr)
    if ended.exit_code > INTERRUPTED_BASE:
        print(f"finished trials are kept; continue with: {resume}", file=sys.stderr)
    return ended.exit_code


def _public(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


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


def _open(args: argparse.Namespace, name: str | None) -> SweepStore:
    return SweepStore.connect(find_sweep(name, args.root, args.storage))


def _view(args: argparse.Namespace, name: str | None) -> SweepView:
    return SweepView.connect(find_sweep(name, args.root, args.storage))


def _resume(args: argparse.Namespace) -> int:
    from localsweep.run.controller import Controller
    from localsweep.search import suggest

    store = _locked(_open(args, args.name))
    try:
        store.reopen()  # whatever ended it before (a target, a refused parameter) is judged again
        role = Controller(
            store,
            search_options=suggest.SearchOptions(),
            max_initial_failures=args.max_initial_failures,
            event=lambda _: None,
        )
        recorded = role.reclaim([t for t in store.trials() if t.state == RUNNING], store.agents())
        if recorded:
            finished = sum(t.state == FINISHED for t in recorded)
            print(
                f"the last controller left {len(recorded)} trial(s) running: {finished} had finished their wandb run "
                f"(recorded finished), {len(recorded) - finished} had not (recorded crashed, interrupted: they do "
                f"not count, and their grid points run again)",
                file=sys.stderr,
            )
        if args.retry_crashed:
            crashed = [t.run_id for t in store.trials() if t.state == CRASHED and t.counts]
            store.mark_retried(crashed)
            print(f"retrying {len(crashed)} crashed trial(s): {' '.join(crashed) or '-'}", file=sys.stderr)
        return _run(store, args)
    finally:
        store.release_lease()


def _agent(args: argparse.Namespace) -> int:
    store = _open(args, args.name)
    print(f"agent joining sweep {store.name} ({store.describe()}), trials start in {Path.cwd()}", file=sys.stderr)
    return _run(store, args, workdir=Path.cwd())


def _print_json(value: Any) -> None:
    # Strict JSON: NaN and Infinity, which Python would write, are invalid for JavaScript, Go or jq; they are null.
    print(json.dumps(finite(value), indent=2, default=str, allow_nan=False))


def _status(args: argparse.Namespace) -> int:
    store = _view(args, args.name)
    if args.json:
        _print_json(status_json(store))
        return 0
    holder, dead = store.controller()
    trials = store.trials()
    print(f"sweep {store.name} ({store.source}, {store.config.get('method')}) in {store.directory}")
    print(controller_line(store))
    if ended := _ended_line(store, holder is None):
        print(ended)
    print(table(store, trials, controller_alive=holder is not None and dead is None))
    if is_multi_objective(store.config) and trials:
        front = pareto.front(store.config, trials)
        print(f"* the Pareto front: {len(front)} trial(s) no other beats on every metric; `best --metric NAME` "
              "picks along one")  # fmt: skip
    if errors := error_notes(trials):
        print(errors)
    return 0


def _ended_line(store: SweepView, no_controller: bool) -> str:
    """Why the sweep ended; that ``resume`` continues it when nobody runs it and it has not ended (a dead
    controller's line says so already); else empty."""
    ended = store.ended()
    if ended is not None:
        return "ended: " + str(ended["reason"]).replace("\n", "\n  ")
    if no_controller:
        return f"not ended: `python -m localsweep resume {store.name}` continues it"
    return ""


def _best(args: argparse.Namespace) -> int:
    store = _view(args, args.name)
    if args.metric is None and is_multi_objective(store.config):
        return _front(store, args.json)
    metric = args.metric or store.metric_name
    try:
        trials = store.trials()
        best = store.best_trial() if args.metric is None else pareto.best_along(store.config, trials, args.metric)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if best is None:
        print(f"sweep {store.name} has no finished trial with a {metric} value yet", file=sys.stderr)
        return 1
    if args.json:
        _print_json(trial_json(store, best))
    else:
        print(f"best of {store.name}: {best.run_id} {metric}={best.metric_value:.6g} ({best.state})")
        print(f"run dir: {best.run_dir}")
        print("config: " + " ".join(f"{k}={v}" for k, v in best.config.items()))
        if best.error:  # its run finished and is ranked, but its process failed afterwards: say so
            print(f"note: {headline(best.error)}")
    return 0


def _front(store: SweepView, as_json: bool) -> int:
    front = pareto.front(store.config, store.trials())
    if not front:
        print(f"sweep {store.name} has no finished trial with a value for every metric yet", file=sys.stderr)
        return 1
    if as_json:
        _print_json({"pareto_front": [trial_json(store, t) for t in front]})
        return 0
    print(f"Pareto front of {store.name}: {len(front)} trial(s), none beaten on every metric by another")
    for trial in front:
        metrics = " ".join(f"{k}={v:.6g}" for k, v in trial_json(store, trial)["metrics"].items())
        print(f"{trial.run_id} {metrics} ({trial.state}) " + " ".join(f"{k}={v}" for k, v in trial.config.items()))
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from localsweep.dashboard.serve import Options, serve  # the web libraries: only this command needs them

    options = Options(args.name, args.root, args.storage, args.host, args.port, args.token)
    try:
        return serve(options, imported=leave_if_stopped)
    except (FileNotFoundError, PermissionError):
        raise
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 1


def _sync(args: argparse.Namespace) -> int:
    from localsweep.cli import sync as sync_command

    leave_if_stopped()  # a stop during that import (W&B's bridge): before anything is uploaded
    return sync_command.run(_open(args, args.name), args, _locked)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit: a reader gone by then is a BrokenPipeError Python can only print
    except BrokenPipeError:
        # The reader stopped reading (`status --json | head -c 10`): leave quietly, as Unix tools do when SIGPIPE
        # ends them, with the exit code a shell shows for that. What is still buffered goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return code


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            store = _locked(_create(args))
            try:
                return _run(store, args)
            finally:
                store.release_lease()
        if args.command == "create":
            store = _create_or_find(args) if args.exist_ok else _create(args)
            print(store.name)
            print(f"sweep {store.name} recorded in {store.describe()}: start agents with "
                  f"`python -m localsweep agent {store.name}`", file=sys.stderr)  # fmt: skip
            return 0
        handlers = {
            "resume": _resume,
            "agent": _agent,
            "status": _status,
            "best": _best,
            "sync": _sync,
            "rerun": rerun_command.run,
            "dashboard": _dashboard,
        }
        return handlers[args.command](args)
    except SweepConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except SweepBusyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again once the other controller has ended
    except (FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DatabaseUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
