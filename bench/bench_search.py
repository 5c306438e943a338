"""Search quality: best validation accuracy vs trials and vs compute, W&B's algorithms (ours) against Optuna.

Methods, each with the same trial budget on the same space (bench/search_space.yaml, MLP on 5,000 real MNIST
rows, up to 9 epochs; grid: bench/search_grid.yaml), repeated over seeds:

- ``grid``, ``random``, ``bayes``, ``bayes-hyperband``: ``python -m localsweep run`` in pooled mode
  (``trainer.train:agent_function``, one worker), W&B's ``sweeps`` engine, ``--seed``; hyperband with
  ``min_iter: 1, eta: 3`` (judged after epochs 1, 3, 9).
- ``custom-tpe``, ``custom-tpe-halving``: the same, with ``method: custom`` and ``scheduler.engine: optuna``
  (localsweep's Optuna engine: TPE); the second prunes with successive halving at the same rungs
  (bench/optuna_pruners.py).
- ``optuna-tpe-hyperband``: Optuna's ``TPESampler(seed)`` + ``HyperbandPruner(1, 9, 3)`` in one process
  (bench/optuna_search.py), without localsweep.

Seed ``s`` is the trainer's ``seed`` (weights, shuffling, train/validation split) and the search seed (ours:
``--seed 1000*s``, see ``SEED_STRIDE``; Optuna: ``TPESampler(seed=s)``), so within one repetition every method
optimises the same function. One JSON line per trial goes to ``--out`` as soon as its study ends; studies already
there are skipped, so an interrupted run continues where it stopped.

Run from the repository root (about 40 minutes on 2 cores for 16 trials; ~2 hours for 30 trials and 6 methods)::

    .venv/bin/python bench/bench_search.py --seeds 0 1 2 3 4 --trials 16
    .venv/bin/python bench/bench_search.py --report-only      # the tables from what --out holds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable

from bench.bench_orchestration import environment  # noqa: E402
from bench.search_report import report  # noqa: E402

OURS = ("grid", "random", "bayes", "bayes-hyperband", "custom-tpe", "custom-tpe-halving")
OPTUNA = "optuna-tpe-hyperband"
HYPERBAND = {"type": "hyperband", "min_iter": 1, "eta": 3}
DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "search.jsonl"
SEED_STRIDE = 1000
"""localsweep seeds its n-th suggestion with ``seed + n``: seeds 0, 1, 2 would share most of their draws."""


def sweep_config(method: str, seed: int) -> dict[str, Any]:
    """The W&B sweep config of one of our methods at one seed."""
    source = "search_grid.yaml" if method == "grid" else "search_space.yaml"
    config: dict[str, Any] = yaml.safe_load((REPO_ROOT / "bench" / source).read_text())
    config["method"] = method.removesuffix("-hyperband")
    if method.endswith("-hyperband"):
        config["early_terminate"] = dict(HYPERBAND)
    if method.startswith("custom-"):
        config["method"], config["scheduler"] = "custom", {"engine": "optuna"}
    if method == "custom-tpe-halving":
        config["scheduler"] |= {"source": "bench/optuna_pruners.py", "optimizer": "successive_halving"}
    config["parameters"]["seed"] = {"value": seed}
    return config


def run_ours(method: str, seed: int, trials: int, tmp: Path) -> list[dict[str, Any]]:
    """One offline sweep in pooled mode; one record per trial, in start order."""
    from localsweep.storage.store import SweepStore

    name = f"{method}-{seed}"
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep_config(method, seed)))
    argv = [sys.executable, "-m", "localsweep", "run", str(path), "--root", str(tmp / "sweeps"), "--name", name]
    argv += ["--count", str(trials), "--seed", str(seed * SEED_STRIDE), "--function", "trainer.train:agent_function"]
    subprocess.run(argv, cwd=REPO_ROOT, env=environment(tmp / name), check=True, capture_output=True)
    store = SweepStore.open(tmp / "sweeps" / name)
    return [
        {
            "trial": t.number,
            "state": t.state,
            "val_accuracy": t.metric_value,
            "epochs": sum(1 for row in t.history if "val_accuracy" in row),
            "wall_s": t.duration,
            "config": t.config,
        }
        for t in store.trials()
    ]


def run_optuna(seed: int, trials: int, tmp: Path) -> list[dict[str, Any]]:
    """One Optuna study in a fresh process (as each of our sweeps starts a fresh worker)."""
    argv = [sys.executable, str(REPO_ROOT / "bench" / "optuna_search.py"), "--seed", str(seed)]
    argv += ["--trials", str(trials)]
    env = environment(tmp / f"optuna-{seed}")
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, check=True, text=True, capture_output=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    """Run the missing studies, appending to ``--out``, then print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=16, help="trial budget per study")
    parser.add_argument("--methods", nargs="+", default=[*OURS, OPTUNA], choices=[*OURS, OPTUNA])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON lines, one per trial")
    parser.add_argument("--report-only", action="store_true", help="print the tables from --out, run nothing")
    parser.add_argument("--challenger", default=OPTUNA, help="the method compared seed by seed with each other")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = args.out.read_text().splitlines() if args.out.exists() else []
    records = [json.loads(line) for line in lines]
    done = {(r["method"], r["seed"]) for r in records}
    for seed in [] if args.report_only else args.seeds:
        for method in args.methods:
            if (method, seed) in done:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                if method == OPTUNA:
                    rows = run_optuna(seed, args.trials, Path(tmp))
                else:
                    rows = run_ours(method, seed, args.trials, Path(tmp))
                wall = time.perf_counter() - start
            study = {"method": method, "seed": seed, "budget": args.trials, "study_wall_s": wall}
            study["loadavg"] = list(os.getloadavg())
            new = [{**study, **row} for row in rows]
            with args.out.open("a") as out:
                out.writelines(json.dumps(r) + "\n" for r in new)
            records += new
            print(f"{method} seed {seed}: {len(rows)} trials in {wall:.0f} s, load {study['loadavg']}", flush=True)
    print(report(records, args.challenger))


if __name__ == "__main__":
    main()
