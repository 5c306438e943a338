"""Early termination exactly at the rung: a trial waits at each rung until the controller has judged it.

Hyperband judges a trial when its metric history reaches a rung (a band: the number of values logged, e.g. after
epochs 1, 3 and 9). Judged while the trial trains on, a stop lands an epoch or more late. So each trial of a sweep
with ``early_terminate`` gets its rungs (:func:`environment`), and when it logs the metric value that reaches one,
it waits (``localsweep/workers/inject/sitecustomize.py``) until its agent writes the controller's decision to the
trial's decision file (:func:`decide`): go on past that length, or ``stop`` — and then the agent also stops it
(SIGTERM; pooled: an exception raised while it waits). If no decision comes within ``RUNG_WAIT_S`` the trial
goes on, as it would without this.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from localsweep.search.wandb_engine import sweeps
from localsweep.workers.inject.sitecustomize import DECISION_VAR, RUNG_METRIC_VAR, RUNG_WAIT_VAR, RUNGS_VAR, STOP

RUNG_WAIT_S = 120.0


def bands(config: dict[str, Any]) -> list[int]:
    """The history lengths at which W&B's hyperband judges a trial (computed by ``sweeps`` itself).

    >>> bands({"metric": {"name": "a", "goal": "maximize"}, "parameters": {"x": {"values": [1]}},
    ...        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3}})[:4]
    [1, 3, 9, 27]
    """
    if config.get("early_terminate", {}).get("type") != "hyperband":
        return []
    probe = sweeps.SweepRun(name="probe", state=sweeps.RunState.running, history=[])
    sweeps.stop_runs(config, [probe])  # sets the bands on every running run it looks at, even with no history
    return [int(b) for b in probe.early_terminate_info["bands"]]


def decision_path(live_path: Path) -> Path:
    """Where a trial reads the controller's decisions (beside its live history)."""
    return live_path.with_suffix(".decision")


def environment(config: dict[str, Any], live_path: Path) -> dict[str, str]:
    """What makes a trial wait at its rungs (nothing for a sweep without hyperband)."""
    found = bands(config)
    if not found:
        return {}
    return {
        RUNGS_VAR: ",".join(map(str, found)),
        RUNG_METRIC_VAR: str(config["metric"]["name"]),
        DECISION_VAR: str(decision_path(live_path)),
        RUNG_WAIT_VAR: str(RUNG_WAIT_S),
    }


def decide(live_path: Path, length: int | None) -> None:
    """Tell a trial the controller's decision: it may go on past ``length`` values, or (None) it is stopped."""
    path = decision_path(live_path)
    partial = path.with_suffix(".partial")
    partial.write_text(STOP if length is None else str(length))
    os.replace(partial, path)  # the trial never reads a half-written decision
