"""A real offline sweep of the real trainer: 2 workers, a few hundred MNIST rows, 1 epoch per trial."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localsweep.core.runlog import read_run
from localsweep.storage.store import SweepStore
from tests.conftest import REPO_ROOT

SWEEP = REPO_ROOT / "tests" / "data" / "tiny_grid.yaml"  # the tests' one tiny trainer sweep (3 grid points)


@pytest.mark.slow
def test_two_worker_sweep_of_the_trainer_finishes_offline_with_readable_runs(tmp_path, subprocess_env):

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localsweep",
            "run",
            str(SWEEP),
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
    assert sorted(t.config["units"] for t in trials) == [16, 32, 64]
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
