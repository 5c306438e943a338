"""The sweep's decisions, all made by W&B's engine (``sweeps``): next parameters, whom to stop, imputation.

Pure functions over stored trials; the controller applies their answers.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from localsweep.engine import bayes_search, schema, sweep_run, sweeps
from localsweep.trial import CRASHED, FINISHED, PENDING, RUNNING, STOPPED, Trial, reaches

_STATES = {
    PENDING: sweeps.RunState.pending,  # suggested, not yet started: a grid must not suggest its point again
    RUNNING: sweeps.RunState.running,
    FINISHED: sweeps.RunState.finished,
    # A hyperband-stopped trial's metrics are real measurements: W&B's search should learn from them.
    STOPPED: sweeps.RunState.finished,
    CRASHED: sweeps.RunState.crashed,
}
_GRID_PROBE = 100_000  # grids larger than this are reported as "unknown size"
# The config was validated before the sweep was created (validate.py). sweeps 0.3.0's validate=True would also
# *fill* it through SweepConfig, which silently drops nested parameters ({"parameters": {...}} entries).
_VALIDATE = False


def plain(value: Any) -> Any:
    """``value`` with every numpy scalar turned into the Python number it holds (for JSON, YAML, argv)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def as_sweep_run(trial: Trial, history: list[dict[str, Any]] | None = None) -> Any:
    """The trial as W&B's engine sees a run; ``history`` overrides the stored one (a live trial's log)."""
    return sweeps.SweepRun(
        name=trial.run_id,
        state=_STATES[trial.state],
        config=trial.params,
        summaryMetrics=trial.summary,
        history=trial.history if history is None else history,
        stopped=trial.state == STOPPED,
    )


def searched(trials: Sequence[Trial]) -> list[Trial]:
    """The trials the search must know about: all but the interrupted ones (requeued: their point runs again)."""
    return [t for t in trials if not t.requeued]


def suggest(config: dict[str, Any], trials: Sequence[Trial], seed: int | None) -> dict[str, Any] | None:
    """W&B's next parameters (``{"lr": {"value": 0.01}}``), or None when a grid is exhausted.

    With ``seed``, numpy's and Python's global generators (bayes and random draw from them) are seeded first from
    ``SeedSequence([seed, len(trials)])``, so the n-th suggestion of a sweep is reproducible and nearby seeds give
    independent sweeps (with ``seed + n``, seed 1 would replay seed 0's draws shifted by one trial).
    """
    if seed is not None:
        state = int(np.random.SeedSequence([seed, len(trials)]).generate_state(1)[0])
        random.seed(state)
        np.random.seed(state)
    # W&B's random search draws without looking at earlier runs (sweeps.run.next_runs passes it none): not
    # converting thousands of trials to SweepRuns for it keeps a suggestion's cost flat in the sweep's size.
    runs = [] if config.get("method") == "random" else [as_sweep_run(t) for t in searched(trials)]
    run = sweeps.next_run(config, runs, validate=_VALIDATE)
    return None if run is None else plain(run.config)


def grid_size(config: dict[str, Any]) -> int | None:
    """How many points a grid sweep has (None for random/bayes, or a grid too large to count cheaply)."""
    if config.get("method") != "grid":
        return None
    points = sweeps.next_runs(config, [], validate=_VALIDATE, n=_GRID_PROBE)
    return None if points[-1] is not None else len(points) - 1


def runs_to_stop(config: dict[str, Any], live: dict[str, list[dict[str, Any]]], trials: Sequence[Trial]) -> list[str]:
    """Run ids of running trials that hyperband (``sweeps.stop_runs``) says to stop.

    ``live`` maps the run id of each running trial to the history read from its log so far.
    """
    if "early_terminate" not in config:
        return []
    runs = [as_sweep_run(t, live.get(t.run_id)) for t in searched(trials)]
    return [run.name for run in sweeps.stop_runs(config, runs) if run.name in live]


def metric_value(config: dict[str, Any], summary: dict[str, Any], history: list[dict[str, Any]]) -> float | None:
    """A trial's sweep metric: its summary value, else its best logged value (W&B's extremum), else None."""
    metric = config.get("metric")
    if not metric:
        return None
    if sweep_run.is_number(summary.get(metric["name"])):
        return float(summary[metric["name"]])
    run = sweeps.SweepRun(history=history)
    try:
        return float(run.metric_extremum(metric["name"], kind=metric.get("goal", "minimize")))
    except ValueError:
        return None


def imputed_metric(config: dict[str, Any], crashed: Trial, trials: Sequence[Trial]) -> float | None:
    """The metric W&B's bayes search assigns a crashed run under ``metric.impute`` (worst, best or latest)."""
    if not config.get("metric"):
        return None
    metric = schema.fill_validate_metric(copy.deepcopy(config))["metric"]
    strategy = bayes_search.ImputeStrategy(metric["impute"])
    runs = [as_sweep_run(t) for t in searched(trials)]
    value = bayes_search.impute(metric["goal"], metric["name"], strategy, run=as_sweep_run(crashed), runs=runs)
    return float(value) if math.isfinite(value) else None


def reached_target(config: dict[str, Any], value: float | None) -> bool:
    """True when ``value`` meets ``metric.target`` (W&B then starts no new runs)."""
    metric = config.get("metric") or {}
    if value is None or metric.get("target") is None:
        return False
    return reaches(metric.get("goal", "minimize"), value, metric["target"])
