"""``python -m localsweep rerun NAME TRIAL [--at-commit] [--out DIR]``: a finished trial's parameters run again,
alone, by the worker code of its sweep's mode, and whether that gave the same numbers (``contract.reproduce``).

TRIAL is the trial's run id or its number as ``status`` shows it; the sweep is an offline one, SQLite or PostgreSQL.
The rerun gets what the trial got from its sweep (its parameter file, the sweep's primary objective) and the thread
settings the trial recorded, writes into ``<sweep>/reruns/<run id>-<time>`` (``--out``), and with ``--at-commit``
runs the code of the commit the trial recorded (``contract.checkout``). Compared: the predictions table's SHA-256,
each of the sweep's metrics, the test metrics and the epochs; and every recorded fact that differs now.

Exit codes: 0 identical, 1 differs, 2 cannot rerun (no such trial, not finished, its record missing or incomplete).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import checkout, objectives, reproduce
from contract import rerun as repeat
from contract.reproduce import CannotRerunError
from localsweep.core import runlog
from localsweep.core.trial import FINISHED, Trial
from localsweep.run.signals import leave_if_stopped
from localsweep.storage.layout import SweepLayout
from localsweep.storage.view import SweepView, find_sweep
from localsweep.workers.handoff import TrialTask, gpu_ids, slot_environments


def add_parser(commands: Any) -> None:
    """The ``rerun`` command's arguments (``--root`` and ``--storage`` are added with every command's)."""
    sub = commands.add_parser(
        "rerun", help="run a finished trial again, alone, and say whether it gave the same numbers (exit 0/1/2)"
    )
    sub.add_argument("name", help="sweep name")
    sub.add_argument("trial", help="the trial: its run id, or its number as `status` shows it")
    sub.add_argument("--at-commit", action="store_true", help="run the code of the commit the trial recorded")
    sub.add_argument("--out", type=Path, help="the rerun's folder (default <sweep>/reruns/<run id>-<time>)")


@dataclass(frozen=True)
class Original:
    """The trial as recorded: its run record, its facts (None: its program records none) and its predictions."""

    trial: Trial
    record: runlog.RunRecord
    provenance: dict[str, Any] | None
    predictions: Path | None


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code (a trial that cannot be rerun: one line on stderr, 2)."""
    view = SweepView.connect(find_sweep(args.name, args.root, args.storage))
    try:
        return _rerun(view, args)
    except CannotRerunError as error:
        print(f"cannot rerun: {error}", file=sys.stderr)
        return reproduce.CANNOT_RERUN
    finally:
        view.close()


def _rerun(view: SweepView, args: argparse.Namespace) -> int:
    """Pick, check and rerun the trial ``args`` names."""
    original = read(view, pick(view.trials(), args.trial, view.name))
    workdir = Path(view.settings["workdir"])
    code = (original.provenance or {}).get("code")
    if args.at_commit:
        checkout.check(code, workdir)  # refused before anything is made
    out = repeat.scratch(args.out or view.layout.rerun_dir(original.trial.run_id, time.strftime("%Y%m%d-%H%M%S")))
    if not args.at_commit:
        return repeat_trial(view, original, out, workdir)
    with checkout.code_at(code, workdir, out / "code") as commit:
        note = f"code: commit {commit.commit} of {commit.repo}"
        return repeat_trial(view, original, out, commit.place(workdir), note)


def pick(trials: list[Trial], spec: str, sweep: str) -> Trial:
    """The trial ``spec`` names: its run id, else its number.

    Raises
    ------
    CannotRerunError
        When no trial has that id or number.
    """
    found = next((t for t in trials if t.run_id == spec), None)
    found = found or next((t for t in trials if spec.isdigit() and t.number == int(spec)), None)
    if found is None:
        listed = ", ".join(f"{t.number} {t.run_id}" for t in trials[:10]) or "none"
        raise CannotRerunError(
            f"TRIAL must name a trial of sweep {sweep} by its run id or number, but got {spec!r} (its trials: "
            f"{listed}); fix: see `python -m localsweep status {sweep}`"
        )
    return found


def read(view: SweepView, trial: Trial) -> Original:
    """The trial's record, checked complete.

    Raises
    ------
    CannotRerunError
        When the trial did not finish, its run directory is not on this host, or its record lacks a fact or the
        predictions file it names.
    """
    if trial.state != FINISHED:
        why = {
            "stopped": "its sweep's early termination ended it, a decision a rerun alone cannot repeat",
            "crashed": "it has no result to compare with (`resume --retry-crashed` runs it again)",
        }.get(str(trial.state), "it has not ended yet")
        raise CannotRerunError(f"only a finished trial can be rerun, but trial {trial.number} is {trial.state}: {why}")
    if trial.run_dir is None or not trial.run_dir.is_dir():
        raise CannotRerunError(
            f"the run directory of trial {trial.number} must be on this host, but {trial.run_dir} is not (it ran "
            f"on host {trial.host or 'unknown'}); fix: rerun it there"
        )
    try:
        record = runlog.read_run(trial.run_dir)
    except (FileNotFoundError, ValueError) as error:
        raise CannotRerunError(f"the record of trial {trial.number} cannot be read: {error}") from None
    provenance = record.config.get(reproduce.PROVENANCE)
    facts = provenance if isinstance(provenance, dict) else None
    missing = [f"config.{name}" for name in reproduce.missing_facts(facts)]
    predictions = runlog.predictions_file(record)
    artifact = record.artifact("predictions")
    if artifact is not None and predictions is None:
        missing.append(f"the file of its predictions artifact ({', '.join(map(str, artifact.entries.values()))})")
    if missing:
        raise CannotRerunError(
            f"the record of trial {trial.number} (run {trial.run_id}) in {trial.run_dir} is incomplete: it lacks "
            f"{', '.join(missing)} (was the record edited or cut short?)"
        )
    return Original(trial, record, facts, predictions)


@contextlib.contextmanager
def _threads(original: Original, view: SweepView) -> Iterator[tuple[dict[str, str], list[str]]]:
    """The slot's variables and notes: the trial's recorded thread settings (set in this process's environment,
    which the trial inherits, and restored afterwards), else the sweep's share for its agent's number of workers."""
    recorded = repeat.thread_settings(original.provenance)
    if recorded is None:
        slots = next((a.slots for a in view.agents() if a.agent_id == original.trial.agent), 1)
        note = f"thread settings: not recorded by the trial, so the rerun used the sweep's share for {slots} worker(s)"
        yield slot_environments(slots, gpu_ids(), os.cpu_count() or 1)[0], [note]
        return
    saved = dict(os.environ)
    repeat.set_threads(os.environ, recorded)
    try:
        yield {}, []
    finally:
        os.environ.clear()
        os.environ.update(saved)


def repeat_trial(view: SweepView, original: Original, out: Path, workdir: Path, code_note: str = "") -> int:
    """Run the trial again alone in ``out`` (started in ``workdir``), compare, print the verdict; returns the
    exit code."""
    from wandb.sdk.lib.runid import generate_id

    from localsweep.outcome.record import read_run  # W&B's engine, through the outcome: only when a trial runs
    from localsweep.workers import alone

    leave_if_stopped()  # a stop during those imports: before the trial starts, not once it has run
    trial, config = original.trial, view.config
    function = view.settings.get("function")
    layout = SweepLayout(out)
    extra = objectives.environment(config)
    task = TrialTask.create(layout, view.sweep_id, generate_id(), trial.params, config.get("project"), extra)
    with _threads(original, view) as (slot_env, notes):
        slot = alone.slot_for(config, function, slot_env, workdir, kill_delay=30.0)
        ended = alone.run_alone(slot, task, view.settings.get("trial_timeout"))
    goals = objectives.objectives(config)
    then = reproduce.outcome(original.record.summary, original.record.history, original.predictions, goals)
    again = read_run(layout, task.run_id, wait=True)
    mode = f"pooled ({function}), in a new worker" if function else "command mode"
    context = [
        f"original: trial {trial.number} (run {trial.run_id}) of sweep {view.name}, {original.record.run_dir}",
        f"rerun: {mode}, {again.run_dir if again else out} (output: {task.log_path})",
        *([code_note] if code_note else []),
    ]
    if ended.exit_code != 0 or again is None:
        failure = f"exit code {ended.exit_code}: {' | '.join((ended.error or '').strip().splitlines()[-5:])}"
        verdict = reproduce.judge(then, None, original.provenance, None, failure, notes)
        return repeat.conclude(verdict, out, original.predictions, None, context)
    predictions = runlog.predictions_file(again)
    now = reproduce.outcome(again.summary, again.history, predictions, goals)
    recorded = again.config.get(reproduce.PROVENANCE)
    facts_now = recorded if isinstance(recorded, dict) else None
    verdict = reproduce.judge(then, now, original.provenance, facts_now, notes=notes)
    return repeat.conclude(verdict, out, original.predictions, predictions, context)
