"""The predictions table's one contract: the trainer writes with it, the analysis reads with it, without TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.sources import fetch
from analysis.sources.predictions import read_predictions
from contract import predictions as schema
from localsweep.core.runlog import read_run
from trainer.predictions import predictions_frame, write_predictions


def test_the_trainer_writes_what_the_analysis_reads(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=30).astype(np.float32)
    y_true = rng.integers(0, 4, 30)
    frame = predictions_frame(probabilities, y_true)
    assert list(frame.columns) == schema.columns(range(4))
    path = write_predictions(frame, tmp_path)
    assert path.name == schema.FILE_NAME
    read = read_predictions(path)
    assert read.labels.tolist() == [0, 1, 2, 3]
    assert read.y_true.tolist() == y_true.tolist()
    assert read.index.tolist() == list(range(30))
    np.testing.assert_array_equal(read.proba.astype(np.float32), probabilities)


@pytest.mark.parametrize("label", [0, 1, 9, 10, 123, -1])
def test_class_of_reads_the_column_prob_column_writes(label):
    assert schema.class_of(schema.prob_column(label)) == label


@pytest.mark.parametrize(
    ("column", "fix"),
    [
        ("prob_00", "rename it prob_0"),
        ("prob_07", "rename it prob_7"),
        ("prob_+1", "rename it prob_1"),
        ("prob_-0", "rename it prob_0"),
        ("prob_\u0663", "rename it prob_3"),  # an Arabic-Indic digit: int() reads it, the writer never writes it
        ("prob_cat", "name each class by its integer label"),
        ("prob_", "name each class by its integer label"),
    ],
)
def test_class_of_refuses_a_prob_column_the_writer_would_not_write(column, fix):
    with pytest.raises(ValueError, match=rf"but found {re.escape(column)}; fix: {fix}"):
        schema.class_of(column)


def test_neither_side_of_the_contract_imports_tensorflow(subprocess_env):
    code = (
        "import sys\n"
        "import contract.predictions\n"
        "light = sorted(m for m in ('numpy', 'pandas') if m in sys.modules)\n"
        "import analysis.__main__, analysis.compare, analysis.pipeline, trainer.predictions\n"
        "print(light, [m for m in ('tensorflow', 'keras') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "[] []"


def _log_artifact(tmp_path: Path, metadata: dict) -> Path:
    import wandb  # the real SDK, offline (tests/conftest.py)

    path = write_predictions(predictions_frame(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1])), tmp_path)
    with wandb.init(project="schema-test") as run:
        artifact = wandb.Artifact(schema.artifact_name(run.id), type=schema.ARTIFACT_TYPE, metadata=metadata)
        artifact.add_file(str(path), policy="immutable")
        run.log_artifact(artifact)
    run_dir = Path(run.dir).parent
    # run.finish() can return before the last records are on disk: wait for the exit record.
    deadline = time.monotonic() + 60
    while not read_run(run_dir).finished and time.monotonic() < deadline:
        time.sleep(0.05)
    return run_dir


def test_the_schema_version_travels_in_the_artifact_metadata(tmp_path):
    run_dir = _log_artifact(tmp_path, schema.artifact_metadata({"test/accuracy": 1.0}))
    source = fetch.from_run_dir(run_dir)
    assert source.schema_version == schema.VERSION == 1
    name = schema.artifact_name(run_dir.name.rsplit("-", 1)[1])
    assert source.artifact == name
    assert fetch.artifact_metadata(run_dir, name) == {"predictions_schema": 1, "test/accuracy": 1.0}


def test_an_unknown_schema_version_is_refused(tmp_path):
    run_dir = _log_artifact(tmp_path, {schema.VERSION_KEY: 2})
    with pytest.raises(
        ValueError, match=r"must follow schema version 1, but its artifact declares predictions_schema=2"
    ):
        fetch.from_run_dir(run_dir)


def test_a_plain_file_declares_no_version(tmp_path):
    path = write_predictions(predictions_frame(np.array([[0.9, 0.1]]), np.array([0])), tmp_path)
    assert fetch.from_predictions_file(path).schema_version is None
