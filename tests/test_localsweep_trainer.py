"""A real offline sweep of the real trainer: 2 workers, a few hundred MNIST rows, 1 epoch per trial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from localsweep.core.runlog import read_run
from localsweep.storage.store import SweepStore

REPO_ROOT = Path(__file__).resolve().parents[1]

SWEEP = """
program: trainer/__main__.py
command: ["${env}", "${interpreter}", "-m", "trainer", "${args}"]
method: grid
metric: {name: val_accuracy, goal: maximize}
parameters:
  units: {values: [16, 32]}
  epochs: {value: 1}
  train_size: {value: 300}
  save_model: {value: false}
"""


@pytest.mark.slow
def test_two_worker_sweep_of_the_trainer_finishes_offline_with_readable_runs(tmp_path, subprocess_env):
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(SWEEP)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localsweep",
            "run",
            str(sweep),
            "--root",
            str(tmp_path),
            "--name",
            "t",
            "--workers",
            "2",
        ],
        cwd=REPO_ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    store = SweepStore.open(tmp_path / "t")
    trials = store.trials()
    assert sorted(t.config["units"] for t in trials) == [16, 32]
    for trial in trials:
        assert trial.state == "finished", trial.error
        assert trial.run_dir is not None
        record = read_run(trial.run_dir)
        assert record.exit_code == 0
        assert record.config["units"] == trial.config["units"]
        assert [row["val_accuracy"] for row in record.history if "val_accuracy" in row] == [trial.metric_value]
        assert 0.0 <= (trial.metric_value or -1.0) <= 1.0
        predictions = record.artifact("predictions")
        assert predictions is not None
        assert predictions.name == f"predictions-{trial.run_id}"
    assert store.best_trial() is not None
