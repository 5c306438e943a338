"""Orchestration cost per trial as a sweep grows: 100, 1,000 and 10,000 synthetic trials, SQLite and PostgreSQL,
1, 4 and 16 workers.

What is measured is the engine alone: the real agent loop, controller role, store (a real SQLite file with
``synchronous=FULL``, a real PostgreSQL server started for the run) and W&B's random search, driving synthetic
trials that end as soon as they start (a slot with no process, and a finished run record made in memory instead
of read from a ``.wandb`` file). So the figure is the per-trial bookkeeping that remains when trials cost nothing:
what the target (cost at 10,000 trials within 2x of at 100) is about. Process start-up, wandb and training are
measured by ``bench/bench_orchestration.py``.

    .venv/bin/python bench/bench_scale.py                      # everything (several minutes)
    .venv/bin/python bench/bench_scale.py --sizes 100 1000 --workers 1 4 --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from localsweep.core.runlog import RunRecord  # noqa: E402
from localsweep.outcome import record  # noqa: E402
from localsweep.run.agent import Agent, RunOptions  # noqa: E402
from localsweep.run.progress import Progress  # noqa: E402
from localsweep.storage.store import SweepStore  # noqa: E402
from localsweep.workers.handoff import TrialTask  # noqa: E402
from localsweep.workers.slot import Outcome  # noqa: E402
from tests.postgres_server import backend_storage  # noqa: E402


class SyntheticSlot:
    """A worker slot whose trial ends at the first poll, having "logged" its metric."""

    def __init__(self) -> None:
        self._task: TrialTask | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def pid(self) -> int | None:
        return None

    def start(self, task: TrialTask) -> None:
        self._task = task

    def stop(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def poll(self) -> Outcome | None:
        if self._task is None:
            return None
        self._task = None
        return Outcome(0, None)

    def close(self) -> None:
        self._task = None


def synthetic_slot(agent: Agent, env: dict[str, str]) -> SyntheticSlot:
    """What the agent gets instead of a command or pooled slot."""
    return SyntheticSlot()


def synthetic_run(store: SweepStore, run_id: str, wait: bool) -> RunRecord:
    """A finished run record, as read_run would return for a trial that logged ``score`` once."""
    score = (hash(run_id) % 1000) / 1000
    return RunRecord(run_id, store.layout.run_dir(run_id, "0"), {}, [{"score": score}],
                     {"score": score}, exit_code=0)  # fmt: skip


def measure(backend_url: str | None, trials: int, workers: int, root: Path) -> dict[str, Any]:
    """Run one synthetic sweep of ``trials`` trials; returns its wall time and per-trial cost."""
    name = f"s{trials}-{workers}-{time.monotonic_ns()}"
    config = {"method": "random", "run_cap": trials, "metric": {"name": "score", "goal": "maximize"},
              "parameters": {"x": {"min": 0.0, "max": 1.0}}}  # fmt: skip
    store = SweepStore.create(root / name, name=name, sweep_id=name, config=config, source="bench", settings={},
                              storage=backend_url)  # fmt: skip
    store.acquire_lease()
    options = RunOptions(workers=workers, poll_interval=0.0, function="bench:synthetic")
    with (
        mock.patch.object(Agent, "_slot", synthetic_slot),
        mock.patch.object(record, "read_run", synthetic_run),
        open(os.devnull, "w") as quiet,
    ):
        start = time.perf_counter()
        ended = Agent(store, options, Progress(store, stream=quiet)).run()
        wall = time.perf_counter() - start
    finished = sum(t.state == "finished" for t in store.trials())
    store.close()
    return {"trials": trials, "workers": workers, "finished": finished, "reason": ended.reason, "wall_s": wall,
            "ms_per_trial": 1000 * wall / trials}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = []
    for backend in args.backends:
        with backend_storage(backend) as url, tempfile.TemporaryDirectory() as root:
            for workers in args.workers:
                for size in args.sizes:
                    row = {"backend": backend, **measure(url, size, workers, Path(root))}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print("\nbackend     workers  " + "  ".join(f"{n:>9} trials" for n in args.sizes) + "   ratio (largest/smallest)")
    for backend in args.backends:
        for workers in args.workers:
            costs = [r["ms_per_trial"] for r in rows if (r["backend"], r["workers"]) == (backend, workers)]
            cells = "  ".join(f"{c:>9.2f} ms/tr" for c in costs)
            print(f"{backend:<11} {workers:>7}  {cells}   {costs[-1] / costs[0]:.2f}x")


if __name__ == "__main__":
    main()
