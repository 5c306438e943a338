"""Per-trial orchestration overhead: `wandb agent`-style processes vs our command and pooled modes; 1 vs 2 workers.

Every trial is the real trainer on real MNIST (MLP, ``--epochs`` on ``--train-size`` rows), with the same
parameters in every scenario (those the pooled sweep drew, replayed):

- ``agent-1-worker``: what ``wandb agent`` does per trial, offline: write the parameter file with wandb's own
  writer, set ``WANDB_SWEEP_PARAM_PATH``/``WANDB_RUN_ID``/``WANDB_SWEEP_ID``, start a fresh ``python -m trainer
  --key=value ...`` (argv from wandb's own macro expansion, as in sweeps/*.yaml) and wait for it. The agent's
  server round trips (heartbeat, run registration) cannot run offline and are not counted.
- ``command-*``: ``python -m localsweep run`` in command mode (a fresh process per trial, plus the store and the
  run-log read); ``pooled-*``: long-lived workers calling ``trainer.train.agent_function``.

Per trial: wall = start to recorded end as the orchestrator sees it; training = the wall time of the trainer call
inside the trial (ours only: ``timed_trial``); overhead = wall - training. For the agent, whose trainer we do not
instrument, overhead is estimated as wall - the pooled scenario's median training time.

Run from the repository root::

    .venv/bin/python bench/bench_orchestration.py --trials 10 --train-size 2000

Prints Markdown tables (what BENCHMARKS.md holds) and the raw numbers as JSON.
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
from typing import Any

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
AGENT_COMMAND = ["${env}", "${interpreter}", "-m", "trainer", "${args}"]  # sweeps/*.yaml's command
SCENARIOS: dict[str, list[str]] = {
    "pooled-1-worker": ["--function", FUNCTION],
    "agent-1-worker": [],
    "command-1-worker": [],
    "command-2-workers": ["--workers", "2"],
    "pooled-2-workers": ["--function", FUNCTION, "--workers", "2"],
}


def timed_trial() -> None:
    """One trial: the trainer's pooled-mode entry, timed; the time goes to ``$WANDB_DIR/bench-times/<run>``."""
    from trainer.train import agent_function

    start = time.perf_counter()
    agent_function()
    elapsed = time.perf_counter() - start
    times = Path(os.environ["WANDB_DIR"], "bench-times")
    times.mkdir(exist_ok=True)
    (times / os.environ["WANDB_RUN_ID"]).write_text(repr(elapsed))


def environment(home: Path) -> dict[str, str]:
    """A child environment: offline wandb, quiet, every wandb dir under ``home``, no API key."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), WANDB_MODE="offline", WANDB_SILENT="true")
    env.update(WANDB_CONSOLE="off", WANDB_DISABLE_GIT="true", WANDB__DISABLE_STATS="true")
    env.update(WANDB__DISABLE_META="true", TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        (home / var.lower()).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / var.lower())
    env.pop("WANDB_API_KEY", None)
    return env


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and range of per-trial seconds.

    >>> spread([1.0, 2.0, 3.0, 4.0, 100.0])["median"]
    3.0
    """
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": statistics.median(values), "q1": q1, "q3": q3, "min": min(values), "max": max(values)}


def _ours(name: str, sweep: Path, root: Path, trials: int, env: dict[str, str]) -> dict[str, Any]:
    from localsweep.storage.store import SweepStore

    argv = [sys.executable, "-m", "localsweep", "run", str(sweep), "--root", str(root), "--name", name]
    argv += ["--count", str(trials), "--seed", "0", *SCENARIOS[name]]
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    rows = SweepStore.open(root / name).trials()
    train = [float((root / name / "bench-times" / t.run_id).read_text()) for t in rows]
    walls = [t.duration or 0.0 for t in rows]
    return {
        "states": sorted({t.state for t in rows}),
        "params": [t.params for t in rows],
        "sweep_wall_s": wall,
        "wall_s": walls,
        "train_s": train,
        "overhead_s": [w - s for w, s in zip(walls, train, strict=True)],
    }


def _agent(params: list[dict[str, Any]], home: Path, env: dict[str, str], train_s: float) -> dict[str, Any]:
    from localsweep.storage.layout import SweepLayout
    from localsweep.workers.command import command_line
    from localsweep.workers.handoff import TrialTask

    walls = []
    start = time.perf_counter()
    for number, values in enumerate(params):
        task = TrialTask.create(SweepLayout(home), "benchagent", f"agent{number:04d}", values, project=None)
        begin = time.perf_counter()
        task.write_param_files()
        argv = command_line({"command": AGENT_COMMAND}, task)
        subprocess.run(argv, cwd=REPO_ROOT, env={**env, **task.environment()}, check=True, capture_output=True)
        walls.append(time.perf_counter() - begin)
    wall = time.perf_counter() - start
    return {"states": ["finished"], "sweep_wall_s": wall, "wall_s": walls, "overhead_s": [w - train_s for w in walls]}


def run_scenarios(names: list[str], trials: int, train_size: int, epochs: int) -> list[dict[str, Any]]:
    """Run the named scenarios in order (the agent replays the pooled-1-worker parameters: run that first)."""
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp, "bench.yaml")
        sweep.write_text(SWEEP.format(epochs=epochs, train_size=train_size))
        env = environment(Path(tmp, "home"))
        params: list[dict[str, Any]] = []
        pooled_train = 0.0
        for name in names:
            load_before = os.getloadavg()[0]
            if name.startswith("agent"):
                if not params:
                    raise ValueError("the agent scenario replays pooled-1-worker's parameters: run that one first")
                result = _agent(params, Path(env["WANDB_DIR"], "agent"), env, pooled_train)
            else:
                result = _ours(name, sweep, Path(tmp, "sweeps"), trials, env)
            if name == "pooled-1-worker":
                params, pooled_train = result.pop("params"), statistics.median(result["train_s"])
            result.pop("params", None)
            trials_done = len(result["wall_s"])
            result.update(
                scenario=name, trials=trials_done, trials_per_hour=trials_done / result["sweep_wall_s"] * 3600
            )
            result["loadavg_1min"] = [load_before, os.getloadavg()[0]]
            results.append(result)
    return results


def _cell(values: list[float] | None) -> str:
    if not values:
        return "-"
    s = spread(values)
    return f"{s['median']:.2f} ({s['q1']:.2f}-{s['q3']:.2f}; {s['min']:.2f}-{s['max']:.2f})"


def print_tables(results: list[dict[str, Any]]) -> None:
    """Markdown tables: per-trial seconds (median (IQR; min-max)), throughput, and the ratios."""
    print("| scenario | trials | wall s/trial | training s/trial | overhead s/trial | load 1-min before/after |")
    print("|---|---|---|---|---|---|")
    for r in results:
        load = "/".join(f"{x:.1f}" for x in r["loadavg_1min"])
        print(
            f"| {r['scenario']} | {r['trials']} | {_cell(r['wall_s'])} | {_cell(r.get('train_s'))} | "
            f"{_cell(r['overhead_s'])} | {load} |"
        )
    print("\n| scenario | sweep wall s | trials/hour |\n|---|---|---|")
    for r in results:
        print(f"| {r['scenario']} | {r['sweep_wall_s']:.1f} | {r['trials_per_hour']:.0f} |")
    by_name = {r["scenario"]: r for r in results}
    median_wall = {name: statistics.median(r["wall_s"]) for name, r in by_name.items()}
    if "agent-1-worker" in median_wall:
        for name in ("command-1-worker", "pooled-1-worker"):
            if name in median_wall:
                ratio = median_wall["agent-1-worker"] / median_wall[name]
                print(f"\nmedian wall s/trial, agent-style / {name}: {ratio:.2f}x")
    for mode in ("command", "pooled"):
        one, two = by_name.get(f"{mode}-1-worker"), by_name.get(f"{mode}-2-workers")
        if one and two:
            ratio = two["trials_per_hour"] / one["trials_per_hour"]
            print(f"\n{mode}: 2 workers give {ratio:.2f}x the trials/hour of 1 worker")


def main() -> None:
    """Run the scenarios and print the tables plus the raw numbers as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial", action="store_true", help="(internal) run one timed trial: the sweep program")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable
    if args.trial:
        timed_trial()
        return
    results = run_scenarios(args.scenarios, args.trials, args.train_size, args.epochs)
    print(
        f"cpus: {len(os.sched_getaffinity(0))}; trials per scenario: {args.trials}; "
        f"train_size={args.train_size}, epochs={args.epochs}; seconds as median (IQR; min-max)\n"
    )
    print_tables(results)
    print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
