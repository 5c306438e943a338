"""The cost of a custom sweep's decisions: the Optuna study kept across decisions, and rebuilt after a takeover.

For 100, 1,000 and 10,000 synthetic finished trials (2 searched parameters, 9 logged steps each) and 4 running
ones, times, median of ``--repeats``:

- a decision in a running sweep (the kept study told only what changed): one suggestion
  (``localsweep.search.suggest.suggest``: TPE, one metric; TPE, two metrics), the previous suggestion recorded
  as a pending trial first; one pruning check (``runs_to_stop`` with Optuna's median and successive-halving
  pruners) after a running trial logged one more step;
- the first decision of a controller that takes the sweep over (the study rebuilt from every stored trial);
- Optuna's own ``study.ask()`` with the same TPE sampler on a study already holding the finished trials: the floor,
  what any Optuna loop pays per suggestion at that size.

No training, no processes: only the decision code the controller calls.

Run from the repository root (about 10 minutes on 2 cores)::

    .venv/bin/python bench/bench_custom_overhead.py --sizes 100 1000 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable

import optuna  # noqa: E402

from localsweep.core.trial import FINISHED, PENDING, RUNNING, Trial  # noqa: E402
from localsweep.search.custom import study as custom_study  # noqa: E402
from localsweep.search.custom.source import Source  # noqa: E402
from localsweep.search.custom.study import Engine  # noqa: E402
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


def steady(decide: Callable[[], object], step: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Seconds of the first ``decide`` (the study built) and the median of the next ``repeats`` (each after
    ``step`` changed one trial)."""
    start = time.perf_counter()
    decide()
    built = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        step()
        start = time.perf_counter()
        decide()
        seconds.append(time.perf_counter() - start)
    return built, statistics.median(seconds)


def suggesting(size: int, metrics: int, repeats: int) -> tuple[float, float]:
    """A running sweep's suggestions: each one recorded as the next pending trial before the next decision."""
    known = trials(size, 4, np.random.default_rng(size))
    made: list[dict[str, Any]] = []

    def decide() -> None:
        params = suggest(config(metrics), known, SearchOptions(seed=len(known)))
        assert params is not None
        made.append(params)

    def record() -> None:
        number = len(known) + 1
        known.append(replace(known[-1], number=number, run_id=f"r{number}", state=PENDING, params=made[-1], history=[]))

    custom_study._kept.clear()  # a controller that starts: nothing kept yet
    return steady(decide, record, repeats)


def pruning(size: int, optimizer: str, source: Source | None, repeats: int) -> tuple[float, float]:
    """A running sweep's pruning checks: each after a running trial logged one more step."""
    known = trials(size, 4, np.random.default_rng(size))
    live = {t.run_id: list(t.history) for t in known if t.state == RUNNING}
    ids = sorted(live)

    def step() -> None:
        run_id = ids[len(live[ids[0]]) % len(ids)]
        live[run_id].append({"acc": float(live[run_id][-1]["acc"])})

    custom_study._kept.clear()
    return steady(lambda: runs_to_stop(config(1, optimizer), live, known, SearchOptions(source=source)), step, repeats)


def floor(size: int, metrics: int, repeats: int) -> float:
    """Optuna's own: ``ask`` + ``tell`` with a seeded TPE on a study already holding ``size`` finished trials."""
    engine = Engine.load(config(metrics), None)
    study = optuna.create_study(directions=[o.goal for o in engine.objectives])
    for trial in trials(size, 0, np.random.default_rng(size)):
        values = [trial.history[-1]["acc"], trial.summary["size"]][:metrics]
        params = {"lr": trial.config["lr"], "units": trial.config["units"]}
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=engine.space.distributions, values=values)
        )

    def ask() -> None:
        study.sampler = optuna.samplers.TPESampler(seed=len(study.trials))
        asked = study.ask(engine.space.distributions)
        study.tell(asked, state=optuna.trial.TrialState.FAIL)  # out of TPE's sight: every ask sees the same study

    return timed(ask, repeats)


def main() -> None:
    """Print one Markdown row per size: seconds per decision (kept study; rebuilt; Optuna's own ask)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pruners.py").write_text(PRUNERS)
        source = Source.read({"source": "pruners.py"}, Path(tmp))
    print(
        "| finished trials | suggest, TPE, 1 metric: kept / rebuilt / Optuna's ask | suggest, TPE, 2 metrics: kept / "
        "rebuilt / Optuna's ask | prune, median: kept / rebuilt | prune, halving: kept / rebuilt |"
    )
    print("|---|---|---|---|---|")
    for size in args.sizes:
        cells = []
        for metrics in (1, 2):
            built, kept = suggesting(size, metrics, args.repeats)
            cells.append(f"{kept:.3f} / {built:.3f} / {floor(size, metrics, args.repeats):.3f} s")
        for optimizer in ("median", "halving"):
            built, kept = pruning(size, optimizer, source, args.repeats)
            cells.append(f"{kept:.3f} / {built:.3f} s")
        print(f"| {size:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
