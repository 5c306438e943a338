"""Hyperband stops a trial exactly at the rung it failed (localsweep/workers/rungs.py), not an epoch or more later.

The echo program logs ``score = x * (step + 1)`` once per step, sleeping between steps; W&B's hyperband with
``min_iter: 1, eta: 2`` judges at 1, 2, 4 and 8 values. Run one at a time, x = 10 and 9 finish; x = 1 falls below
the threshold at the first rung and x = 2 at the second, so their histories must end at exactly 1 and 2 values.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from localsweep.storage.store import SweepStore
from localsweep.workers.rungs import bands
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_FUNCTION

CONFIG = (
    "program: tests/localsweep_programs/echo_config.py\nmethod: grid\nmetric: {name: score, goal: maximize}\n"
    "early_terminate: {type: hyperband, min_iter: 1, eta: 2}\n"
    "parameters:\n  x: {values: [10, 9, 1, 2]}\n  epochs: {value: 8}\n  sleep: {value: 0.3}\n"
)


def test_bands_come_from_w_and_b_hyperband() -> None:
    config = {"metric": {"name": "a", "goal": "maximize"}, "parameters": {"x": {"values": [1]}}}
    assert bands({**config, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}}) == [3, 9]
    assert bands(config) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", [[], ["--function", ECHO_FUNCTION]], ids=["command", "pooled"])
def test_hyperband_stops_land_exactly_on_the_rung(tmp_path, subprocess_env, mode):
    sweep_yaml = tmp_path / "sweep.yaml"
    sweep_yaml.write_text(CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "localsweep", "run", str(sweep_yaml), "--root", str(tmp_path), "--name", "r", *mode],
        cwd=REPO_ROOT, env=subprocess_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ended = {t.config["x"]: t for t in SweepStore.open(tmp_path / "r").trials()}
    scores = {x: [row["score"] for row in t.history if "score" in row] for x, t in ended.items()}
    assert (ended[10].state, len(scores[10])) == ("finished", 8)
    assert (ended[9].state, len(scores[9])) == ("finished", 8)
    assert (ended[1].state, scores[1]) == ("stopped", [1.0])  # stopped at rung 1: no second value
    assert (ended[2].state, scores[2]) == ("stopped", [2.0, 4.0])  # stopped at rung 2: no third value
