"""The cost of a custom sweep's decisions: the Optuna study is rebuilt from the stored trials for each one.

For 10, 100 and 1,000 synthetic finished trials (2 searched parameters, 9 logged steps each) and 4 running ones,
times one suggestion (``localsweep.search.suggest.suggest``: TPE, one metric; TPE, two metrics) and one pruning check
(``localsweep.search.suggest.runs_to_stop`` with Optuna's median and successive-halving pruners), median of
``--repeats``.
No training, no processes: only the decision code the controller calls.

Run from the repository root (about 3 minutes on 2 cores)::

    .venv/bin/python bench/bench_custom_overhead.py --sizes 10 100 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable

from localsweep.core.trial import FINISHED, RUNNING, Trial  # noqa: E402
from localsweep.search.custom.source import Source  # noqa: E402
from localsweep.search.suggest import SearchOptions, runs_to_stop, suggest  # noqa: E402

PRUNERS = """
import optuna

def median(seed):
    return optuna.pruners.MedianPruner(n_startup_trials=5)

def halving(seed):
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
"""


def config(metrics: int, optimizer: str | None = None) -> dict[str, Any]:
    """A custom sweep over ``lr`` (log-uniform) and ``units`` (values), with one or two metrics."""
    goals = [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}][:metrics]
    scheduler: dict[str, Any] = {"engine": "optuna"}
    if optimizer:
        scheduler |= {"source": "pruners.py", "optimizer": optimizer}
    return {
        "method": "custom",
        "scheduler": scheduler,
        **({"metric": goals[0]} if metrics == 1 else {"metrics": goals}),
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1.0e-4, "max": 0.1},
            "units": {"values": [32, 64, 128, 256]},
        },
    }


def trials(finished: int, running: int, rng: np.random.Generator) -> list[Trial]:
    """Finished trials with 9 steps of ``acc`` and a ``size``, then running ones with 4 steps logged."""
    made = []
    for number in range(1, finished + running + 1):
        lr, units = float(10 ** rng.uniform(-4, -1)), int(rng.choice([32, 64, 128, 256]))
        steps = 9 if number <= finished else 4
        history = [{"acc": float(1 - np.exp(-(s + 1) * lr * 50) * rng.uniform(0.8, 1.0))} for s in range(steps)]
        made.append(
            Trial(
                number=number,
                run_id=f"r{number}",
                state=FINISHED if number <= finished else RUNNING,
                params={"lr": {"value": lr}, "units": {"value": units}},
                started_at=0.0,
                ended_at=None,
                exit_code=0,
                error=None,
                run_dir=None,
                history=history,
                summary={"size": float(units * 785)} if number <= finished else {},
                artifacts=[],
                metric_value=max(row["acc"] for row in history),
                metric_imputed=False,
                requeued=False,
                pid=None,
            )
        )
    return made


def timed(action: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def row(size: int, source: Source | None, repeats: int) -> list[float]:
    """Seconds per decision with ``size`` finished trials: two suggestions, two pruning checks."""
    known = trials(size, 4, np.random.default_rng(size))
    live = {t.run_id: t.history for t in known if t.state == RUNNING}
    pruning = SearchOptions(source=source)
    return [
        timed(lambda: suggest(config(1), known, SearchOptions(seed=0)), repeats),
        timed(lambda: suggest(config(2), known, SearchOptions(seed=0)), repeats),
        timed(lambda: runs_to_stop(config(1, "median"), live, known, pruning), repeats),
        timed(lambda: runs_to_stop(config(1, "halving"), live, known, pruning), repeats),
    ]


def main() -> None:
    """Print one Markdown row per size: seconds per decision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pruners.py").write_text(PRUNERS)
        source = Source.read({"source": "pruners.py"}, Path(tmp))
    print("| finished trials | suggest, TPE, 1 metric | suggest, TPE, 2 metrics | prune, median | prune, halving |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        cells = row(size, source, args.repeats)
        print(f"| {size:,} | " + " | ".join(f"{c:.3f} s" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
