"""``python -m trainer --rerun RUN_DIR [--at-commit] [--out DIR]``: train a recorded run's config again in a scratch
folder and say whether it gave the same numbers (the rules: ``contract.reproduce``).

RUN_DIR is any run directory of the trainer: an offline run, the local folder of an online run (``wandb agent``), or
a run downloaded from W&B (its ``config.yaml`` and ``wandb-summary.json``, with ``predictions.csv``). The rerun is
``python -m trainer`` given the recorded config the way ``wandb agent`` gives a sweep's parameters (a parameter file
in ``WANDB_SWEEP_PARAM_PATH``), with the recorded thread settings and restored objective, offline, writing into
``--out`` (default ``reruns/<run id>-<time>``); with ``--at-commit``, run from a temporary worktree of the recorded
commit (``contract.checkout``).

Exit codes: 0 identical, 1 differs, 2 cannot rerun (the record is missing or incomplete: what is missing is said).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import checkout, reproduce
from contract import rerun as repeat
from contract.objectives import OBJECTIVE_VAR, Objective
from contract.reproduce import CannotRerunError
from localsweep.core import runlog
from trainer.config import TrainConfig
from trainer.logged import DEFAULT_RESTORE, OBJECTIVES

_REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path("reruns")
OBJECTIVE_GOALS = [Objective(name, "maximize" if goal == "max" else "minimize") for name, goal in OBJECTIVES.items()]
"""What the rerun compares besides the predictions, the test metrics and the epochs: the per-epoch objectives (a
sweep's metric is one of them), read as W&B reads them."""
_NOT_HANDED_DOWN = ("WANDB_RUN_ID", "WANDB_SWEEP_ID", "WANDB_RESUME", "WANDB_SERVICE", "WANDB_SWEEP_PARAM_PATH")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer --rerun", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rerun", type=Path, required=True, metavar="RUN_DIR", help="the recorded run's directory")
    parser.add_argument(
        "--at-commit", action="store_true", help="run the code of the recorded commit (a temporary git worktree)"
    )
    parser.add_argument("--out", type=Path, help=f"the scratch folder (default {DEFAULT_OUT}/<run id>-<time>)")
    return parser


@dataclass(frozen=True)
class Original:
    """The recorded run: its record, the config to train again, its facts and its predictions file."""

    record: runlog.RunRecord
    config: dict[str, Any]
    provenance: dict[str, Any]
    predictions: Path


def main(argv: list[str]) -> int:
    """Run ``python -m trainer --rerun ...``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        original = read(args.rerun)
        if args.at_commit:
            checkout.check(original.provenance.get("code"), _REPO)  # refused before anything is made
        out = repeat.scratch(args.out or DEFAULT_OUT / f"{original.record.run_id}-{time.strftime('%Y%m%d-%H%M%S')}")
        if not args.at_commit:
            return repeat_run(original, out, _REPO, Path(original.provenance.get("workdir") or _REPO))
        with checkout.code_at(original.provenance.get("code"), _REPO, out / "code") as code:
            workdir = code.place(Path(original.provenance.get("workdir") or code.repo))
            return repeat_run(original, out, code.worktree, workdir, f"code: commit {code.commit} of {code.repo}")
    except CannotRerunError as error:
        print(f"trainer: cannot rerun: {error}", file=sys.stderr)
        return reproduce.CANNOT_RERUN


def read(run_dir: Path) -> Original:
    """The recorded run, checked complete.

    Raises
    ------
    CannotRerunError
        When it is no run directory, or its record lacks a config field, a recorded fact, its predictions or its
        end; every missing piece is named.
    """
    try:
        record = runlog.read_record(run_dir)
    except (FileNotFoundError, ValueError) as error:
        raise CannotRerunError(str(error)) from None
    missing = [f"config.{name}" for name in TrainConfig.field_names() if name not in record.config]
    recorded = record.config.get(reproduce.PROVENANCE)
    facts = recorded if isinstance(recorded, dict) else None
    missing += [f"config.{name}" for name in reproduce.missing_facts(facts)]
    if facts is None:
        missing.append(f"config.{reproduce.PROVENANCE}")
    predictions = runlog.predictions_file(record)
    if predictions is None:
        missing.append("its predictions table (a predictions artifact's file, or files/predictions.csv)")
    if record.kind == "log" and record.exit_code != 0:
        missing.append(f"a finished run (its exit record: {'none' if record.exit_code is None else record.exit_code})")
    if missing or facts is None or predictions is None:
        raise CannotRerunError(
            f"the record of run {record.run_id} in {run_dir} is incomplete: it lacks {', '.join(missing)}; a "
            "finished run of `python -m trainer` records all of them (was the record edited or cut short?)"
        )
    config = {name: record.config[name] for name in TrainConfig.field_names()}
    try:
        TrainConfig.from_mapping(config)
    except ValueError as error:
        raise CannotRerunError(f"the recorded config of run {record.run_id} is not valid here: {error}") from None
    return Original(record, config, facts, predictions)


def repeat_run(original: Original, out: Path, code: Path, workdir: Path, code_note: str = "") -> int:
    """Train ``original``'s config again with the code in ``code`` (started in ``workdir``), compare, print the
    verdict; returns the exit code."""
    env = {k: v for k, v in os.environ.items() if k not in (*_NOT_HANDED_DOWN, OBJECTIVE_VAR)}
    params = out / "params.yaml"  # JSON is YAML: wandb reads it as a sweep's parameter file
    params.write_text(json.dumps({"wandb_version": 1, **{k: {"value": v} for k, v in original.config.items()}}))
    env |= {"WANDB_MODE": "offline", "WANDB_DIR": str(out), "WANDB_SWEEP_PARAM_PATH": str(params)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    notes = []
    threads = repeat.thread_settings(original.provenance)
    if threads is None:
        notes.append("thread settings: not recorded, so the rerun used this environment's")
    else:
        repeat.set_threads(env, threads)
    objective = original.provenance.get("objective")
    if isinstance(objective, dict):
        env[OBJECTIVE_VAR] = json.dumps(objective)
    else:
        notes.append(f"restored epoch: its objective is not recorded, so the rerun kept {DEFAULT_RESTORE.name}'s best")
    log = out / "rerun.log"
    with log.open("wb") as output:
        done = subprocess.run(
            # -P: the code on PYTHONPATH is the trainer that runs, whatever the working folder holds.
            [sys.executable, "-P", "-m", "trainer"],
            cwd=workdir if workdir.is_dir() else code,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    record = original.record
    then = reproduce.outcome(record.summary, record.history, original.predictions, OBJECTIVE_GOALS)
    runs = sorted((out / "wandb").glob("offline-run-*"))
    context = [f"original: {record.run_dir}", f"rerun: {runs[-1] if runs else out} (output: {log})"]
    context += [code_note] if code_note else []
    if done.returncode != 0 or not runs:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        failure = f"python -m trainer exited with code {done.returncode}: " + " | ".join(tail)
        verdict = reproduce.judge(then, None, original.provenance, None, failure, notes)
        return repeat.conclude(verdict, out, original.predictions, None, context)
    again = runlog.read_run(runs[-1])
    predictions = runlog.predictions_file(again)
    now = reproduce.outcome(again.summary, again.history, predictions, OBJECTIVE_GOALS)
    verdict = reproduce.judge(then, now, original.provenance, again.config.get(reproduce.PROVENANCE), notes=notes)
    return repeat.conclude(verdict, out, original.predictions, predictions, context)
