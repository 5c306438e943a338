"""Trials per hour with 1 agent and with 3 agents on one sweep recorded in PostgreSQL.

Each trial is the tests' echo program (a real wandb offline run) that waits ``--sleep`` seconds per step: a
stand-in for a trial whose time is spent off this machine's 2 cores (a GPU, a remote service). Training on the same
2 cores would not speed up with more agents, and says nothing about the engine. Every agent is a separate process
with its own folder and host name, as on separate machines; one PostgreSQL server, started for the run.

    .venv/bin/python bench/bench_agents.py                   # 12 trials of 3 x 1 s, 1 agent then 3 agents
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.postgres_server import postgres_server  # noqa: E402

PROGRAM = REPO_ROOT / "tests" / "localsweep_programs" / "echo_config.py"


def sweep(root: Path, url: str, name: str, trials: int, sleep: float, agents: int) -> float:
    """Create sweep ``name`` and run it with ``agents`` agents; returns the wall time in seconds."""
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "LOCALSWEEP_STORAGE": url,
        "PYTHONPATH": str(REPO_ROOT),
    }  # agents start in folders of their own, as on other hosts
    yaml_path = root / f"{name}.yaml"
    yaml_path.write_text(
        f"program: {PROGRAM}\nmethod: grid\nmetric: {{name: score, goal: maximize}}\nparameters:\n"
        f"  x: {{values: {list(range(1, trials + 1))}}}\n  epochs: {{value: 3}}\n  sleep: {{value: {sleep}}}\n"
    )
    subprocess.run([sys.executable, "-m", "localsweep", "create", str(yaml_path), "--name", name], env=env,
                   cwd=REPO_ROOT, check=True, capture_output=True)  # fmt: skip
    start = time.perf_counter()
    processes = []
    for i in range(agents):
        home = root / f"{name}-host{i}"
        home.mkdir()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "localsweep", "agent", name, "--root", str(home)],
            env={**env, "LOCALSWEEP_HOST": f"{name}-host{i}"}, cwd=home,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"an agent of {name} exited {process.returncode}:\n{stderr[-3000:]}")
    wall = time.perf_counter() - start
    from localsweep.storage.store import Location, SweepStore

    ended = SweepStore.connect(Location(name, root, url)).trials()
    hosts = sorted(Counter(str(t.host) for t in ended).values())
    print(f"{agents} agent(s): trials per agent {hosts}, {sum(t.state != 'finished' for t in ended)} not finished")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds per step (3 steps per trial)")
    args = parser.parse_args()
    with postgres_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.create_database("bench")
        walls = {n: sweep(Path(tmp), url, f"a{n}", args.trials, args.sleep, n) for n in (1, 3)}
    for agents, wall in walls.items():
        print(f"{agents} agent(s): {args.trials} trials in {wall:.1f} s = {3600 * args.trials / wall:.0f} trials/hour")
    print(f"speed-up with 3 agents: {walls[1] / walls[3]:.2f}x")


if __name__ == "__main__":
    main()
