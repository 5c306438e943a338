"""End to end on real MNIST (a few hundred rows, one epoch) with the real wandb SDK, offline."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wandb

from analysis.sources.fetch import artifact_metadata
from localsweep.core.runlog import read_run
from tests.conftest import UNSET_WANDB_VARS, quiet_wandb_env
from trainer.train import MODEL_METRICS, OBJECTIVES, TEST_METRICS, RunResult, train

pytestmark = pytest.mark.slow

TINY = {"epochs": 1, "train_size": 300, "units": 32, "batch_size": 32, "learning_rate": 0.003}


def _train(**overrides):
    try:
        return train({**TINY, **overrides})
    finally:
        wandb.teardown()  # one process, many runs: each run must start from a fresh wandb setup


def _finished(run_dir: Path):
    record = read_run(run_dir)
    assert record.finished, "run.finish() returned; the exit record must be on disk"
    return record


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """One tiny run with seed 3, read by the tests below, and the WANDB_DIR it ran in (module-scoped fixtures come
    before the autouse per-test environment, so it sets its own, the same way)."""
    with pytest.MonkeyPatch.context() as patch:
        for var, value in quiet_wandb_env(tmp_path_factory.mktemp("seeded") / "wandb-home").items():
            patch.setenv(var, value)
        for var in UNSET_WANDB_VARS:
            patch.delenv(var, raising=False)
        return _train(seed=3), Path(os.environ["WANDB_DIR"])


def test_train_offline_writes_run_predictions_artifacts_and_summary(seeded):
    result, wandb_dir = seeded
    assert result.run_dir.name.startswith("offline-run-")
    assert result.run_dir.is_relative_to(wandb_dir)

    predictions = pd.read_csv(result.predictions_path)
    assert predictions.shape == (10000, 13)
    assert list(predictions.columns[:3]) == ["index", "y_true", "y_pred"]
    probabilities = predictions.filter(like="prob_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (predictions["y_pred"] == probabilities.argmax(axis=1)).all()

    record = _finished(result.run_dir)
    assert record.exit_code == 0
    assert record.config["units"] == 32
    assert record.config["epochs"] == 1
    assert record.config["dropout_rate"] == pytest.approx(0.2)  # defaults are recorded too
    provenance = record.config["provenance"]
    assert provenance["data_sha256"]["x_test"].startswith("6d87418d")
    assert provenance["packages"]["wandb"] == "0.23.1"
    assert provenance["train_rows"] == 270

    assert set(TEST_METRICS) <= set(record.summary)
    assert record.summary["test/accuracy"] == pytest.approx(result.summary["test/accuracy"])
    assert 0.3 < record.summary["test/accuracy"] <= 1.0
    model_row, epoch_row = record.history  # the model's size and speed before training, then one row per epoch
    assert set(MODEL_METRICS) <= set(model_row)
    assert set(OBJECTIVES) <= set(epoch_row)
    assert "epoch/val_accuracy" in epoch_row  # WandbMetricsLogger's keys, same row
    assert model_row["model_parameters"] == (784 * 32 + 32) + (32 * 10 + 10)  # Dense(32), then the softmax
    assert model_row["latency_ms_per_example"] > 0
    assert record.summary["model_parameters"] == {"min": model_row["model_parameters"]}  # define_metric(summary=)

    types = {a.type: a for a in record.artifacts}
    assert types["predictions"].name == f"predictions-{result.run_id}"
    assert types["predictions"].entries == {"predictions.csv": result.predictions_path}
    metadata = artifact_metadata(result.run_dir, f"predictions-{result.run_id}")
    assert metadata == {"predictions_schema": 1, **result.summary}  # contract.predictions's version
    assert types["model"].entries == {"model.keras": result.model_path}
    assert result.model_path is not None
    assert result.model_path.stat().st_size > 0


def test_train_is_deterministic_for_a_seed(seeded):
    first, second = seeded[0], _train(seed=3)
    assert first.summary == second.summary
    a, b = pd.read_csv(first.predictions_path), pd.read_csv(second.predictions_path)
    pd.testing.assert_frame_equal(a, b)
    third = _train(seed=4)
    assert third.summary != first.summary


def test_train_takes_sweep_values_from_the_agent_param_file(tmp_path, monkeypatch):
    # What `wandb agent` (and the offline engine) does: a param file named by WANDB_SWEEP_PARAM_PATH.
    params = {"wandb_version": 1, "units": {"value": 16}, "optimizer": {"value": "sgd"}}
    path = tmp_path / "config-run.yaml"
    path.write_text(json.dumps(params))
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    result = _train(units=64, save_model=False)  # the flag loses to the sweep's value
    record = _finished(result.run_dir)
    assert record.config["units"] == 16
    assert record.config["optimizer"] == "sgd"
    assert result.model_path is None
    assert [a.type for a in record.artifacts] == ["predictions"]


def test_train_rejects_an_unknown_sweep_parameter_and_finishes_the_run(tmp_path, monkeypatch):
    path = tmp_path / "config-run.yaml"
    path.write_text(json.dumps({"wandb_version": 1, "learnig_rate": {"value": 0.1}}))
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['learnig_rate'\]"):
        _train()
    (run_dir,) = Path(os.environ["WANDB_DIR"]).glob("wandb/offline-run-*")
    assert _finished(run_dir).exit_code == 1


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_cli_runs_offline_and_prints_where_outputs_are(subprocess_env):
    del subprocess_env["WANDB_MODE"]  # unset: no key, so the trainer chooses offline and says so
    done = _cli("--epochs=1", "--train_size=300", "--save_model=False", env=subprocess_env)
    assert done.returncode == 0, done.stderr
    assert "running offline" in done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines() if line.startswith(("run dir", "predict")))
    assert Path(lines["predictions"].strip()).is_file()
    assert Path(lines["run dir"].strip()).is_dir()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr=0.1"], r"unknown config key\(s\) \['lr'\]"),
        (["--learning_rate=-0.1"], r"`0 < learning_rate <= 10` must hold, but got learning_rate=-0.1"),
        (["--epochs"], r"arguments must look like --key=value"),
        (["--epochs=1", "--epochs=3"], r"each flag may be given once, but got '--epochs=1' and '--epochs=3'"),
        (["--data_source=file", "--data_path=/nonexistent/mnist.npz"], r"dataset file not found"),
        (["--data_source=file", "--data_path={corrupt}"], r"not a readable .npz archive"),
    ],
)
def test_cli_bad_input_gives_one_clear_error_and_exit_2(args, message, subprocess_env, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"\x00" * 100)
    done = _cli(*(a.format(corrupt=corrupt) for a in args), env=subprocess_env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("trainer: error:") == 1
    assert re.search(message, done.stderr)
    if "corrupt" not in args[-1]:  # a corrupt file is found by reading it, inside the run; all else before it
        assert not list(Path(subprocess_env["WANDB_DIR"]).glob("wandb/*run-*")), "refused before a wandb run exists"


def test_cli_refuses_a_run_folder_wandb_would_swap_for_the_temp_dir(subprocess_env, tmp_path):
    # wandb writes under the temp dir when it cannot write WANDB_DIR: in a container that run would be lost.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = _cli("--epochs=1", env={**subprocess_env, "WANDB_DIR": str(blocker / "runs")})
    assert done.returncode == 2
    assert f"trainer: error: wandb keeps this run under {blocker / 'runs'} (WANDB_DIR" in done.stderr
    assert "instead, lost with a container" in done.stderr


def test_cli_help_lists_every_flag(subprocess_env):
    done = _cli("--help", env=subprocess_env)
    assert done.returncode == 0
    assert "--learning_rate=0.001" in done.stdout
    assert "--model='mlp'" in done.stdout


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_cli_stopped_by_a_signal_finishes_its_run(signum, code, subprocess_env):
    # What `wandb agent` (SIGTERM) and `docker stop` through dumb-init (SIGINT) do to a running trial.
    wandb_dir = Path(subprocess_env["WANDB_DIR"])
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer", "--epochs=1000", "--train_size=2000", "--save_model=False"],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _has_epochs(wandb_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    (run_dir,) = wandb_dir.glob("wandb/offline-run-*")
    record = _finished(run_dir)
    assert record.exit_code != 0
    assert len(record.history) >= 1  # the epochs done so far are kept


def _has_epochs(wandb_dir: Path) -> bool:
    logs = list(wandb_dir.glob("wandb/offline-run-*/run-*.wandb"))
    return bool(logs) and bool(read_run(logs[0].parent).history)
