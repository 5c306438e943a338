"""Orchestration overhead of offline sweeps: command vs pooled mode, and throughput of 1 vs 2 workers.

Every trial is the real trainer (``trainer.train.agent_function``, MLP on real MNIST) wrapped in a timer; the
training time of a trial is the wall time of that call (data, model, fit, predictions, artifacts: everything
the trial itself does). Overhead per trial = the trial's wall time in the sweep store (start to recorded end)
minus its training time: process start and imports (command mode), hand-off, wandb teardown, result reading.

Run from the repository root::

    .venv/bin/python bench/bench_orchestration.py --trials 6 --train-size 2000

Prints a Markdown table (what BENCHMARKS.md holds).
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

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION = "bench.bench_orchestration:timed_trial"
SWEEP = """
program: bench/bench_orchestration.py
command: ["${{env}}", "${{interpreter}}", "bench/bench_orchestration.py", "--trial"]
method: random
metric: {{name: val_accuracy, goal: maximize}}
parameters:
  units: {{values: [32, 64, 128]}}
  learning_rate: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}}
  epochs: {{value: {epochs}}}
  train_size: {{value: {train_size}}}
  save_model: {{value: false}}
"""


def timed_trial() -> None:
    """One trial: the trainer's pooled-mode entry, timed; the time goes to ``$WANDB_DIR/bench-times/<run>``."""
    from trainer.train import agent_function

    start = time.perf_counter()
    agent_function()
    elapsed = time.perf_counter() - start
    times = Path(os.environ["WANDB_DIR"], "bench-times")
    times.mkdir(exist_ok=True)
    (times / os.environ["WANDB_RUN_ID"]).write_text(repr(elapsed))


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), WANDB_MODE="offline", WANDB_SILENT="true")
    env.update(WANDB_CONSOLE="off", WANDB_DISABLE_GIT="true", WANDB__DISABLE_STATS="true")
    env.update(WANDB__DISABLE_META="true", TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        (home / var.lower()).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / var.lower())
    env.pop("WANDB_API_KEY", None)
    return env


def _scenario(name: str, extra: list[str], sweep: Path, root: Path, trials: int, env: dict[str, str]) -> dict:
    from localsweep.store import SweepStore

    argv = [sys.executable, "-m", "localsweep", "run", str(sweep), "--root", str(root), "--name", name]
    argv += ["--count", str(trials), "--seed", "0", *extra]
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    store = SweepStore.open(root / name)
    rows = store.trials()
    train = [float((root / name / "bench-times" / t.run_id).read_text()) for t in rows]
    overhead = [(t.duration or 0.0) - s for t, s in zip(rows, train, strict=True)]
    return {
        "scenario": name,
        "states": sorted({t.state for t in rows}),
        "trials": len(rows),
        "sweep_wall_s": wall,
        "median_train_s": statistics.median(train),
        "median_overhead_s": statistics.median(overhead),
        "overheads_s": [round(o, 2) for o in overhead],
        "trials_per_hour": len(rows) / wall * 3600,
    }


def main() -> None:
    """Run the scenarios and print a Markdown table plus the raw numbers as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial", action="store_true", help="(internal) run one timed trial: the sweep program")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable
    if args.trial:
        timed_trial()
        return
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp, "bench.yaml")
        sweep.write_text(SWEEP.format(epochs=args.epochs, train_size=args.train_size))
        env = _environment(Path(tmp, "home"))
        scenarios = [
            ("command-1-worker", []),
            ("pooled-1-worker", ["--function", FUNCTION]),
            ("command-2-workers", ["--workers", "2"]),
            ("pooled-2-workers", ["--function", FUNCTION, "--workers", "2"]),
        ]
        results = [_scenario(n, extra, sweep, Path(tmp, "sweeps"), args.trials, env) for n, extra in scenarios]
    print(
        f"cpus: {len(os.sched_getaffinity(0))}; trials per scenario: {args.trials}; "
        f"train_size={args.train_size}, epochs={args.epochs}\n"
    )
    print("| scenario | median training s/trial | median overhead s/trial | sweep wall s | trials/hour |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['scenario']} | {r['median_train_s']:.2f} | {r['median_overhead_s']:.2f} | "
            f"{r['sweep_wall_s']:.1f} | {r['trials_per_hour']:.0f} |"
        )
    by_name = {r["scenario"]: r for r in results}
    for mode in ("command", "pooled"):
        ratio = by_name[f"{mode}-2-workers"]["trials_per_hour"] / by_name[f"{mode}-1-worker"]["trials_per_hour"]
        print(f"\n{mode}: 2 workers give {ratio:.2f}x the trials/hour of 1 worker")
    print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
