"""``python -m trainer --rerun RUN_DIR``: a recorded run trained again and compared (trainer/rerun.py). The real
trainer reruns bit-identical on CPU, from its offline run and from the files W&B keeps of it; a record with a field
removed exits 2 naming it; ``--at-commit`` runs the recorded commit's code (a tiny stand-in trainer in a repository
made here, so no real training) and refuses a commit the repository does not know."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import reproduce
from localsweep.core import runlog
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import python_m
from trainer import rerun
from trainer.config import TrainConfig

TINY: dict[str, Any] = {"epochs": 2, "train_size": 300, "units": 16, "batch_size": 32, "save_model": False}


def trainer(env: dict[str, str], *args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return python_m("trainer", env, *args, cwd=cwd, timeout=600)


def download(record: runlog.RunRecord, into: Path, drop: tuple[str, ...] = ()) -> Path:
    """The run as the files W&B keeps of it (``config.yaml``, ``wandb-summary.json``, ``predictions.csv`` in
    ``files/``), less the dotted config keys ``drop``."""
    config: dict[str, Any] = json.loads(json.dumps(record.config))
    for key in drop:
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]
    files = into / f"run-{record.run_id}" / "files"
    files.mkdir(parents=True)
    values = {"wandb_version": 1, **{k: {"desc": None, "value": v} for k, v in config.items()}}
    (files / "config.yaml").write_text(yaml.safe_dump(values))
    (files / "wandb-summary.json").write_text(json.dumps(record.summary))
    predictions = runlog.predictions_file(record)
    assert predictions is not None
    shutil.copy(predictions, files / "predictions.csv")
    return files.parent


def fabricated(tmp_path: Path, **provenance: Any) -> runlog.RunRecord:
    """A complete record of a trainer run, made by hand (nothing trains)."""
    facts = {"data_sha256": {"x_train": "aa"}, "code": {"commit": "c", "dirty": False}, "packages": {}, **provenance}
    config = {**vars(TrainConfig(**TINY)), reproduce.PROVENANCE: facts}
    (tmp_path / "files").mkdir(parents=True)
    (tmp_path / "files" / "predictions.csv").write_text("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.9,0.1\n")
    return runlog.RunRecord("abc123", tmp_path, config, [], {"epoch": 2}, kind="files")


def test_a_record_with_a_field_removed_exits_2_naming_it(tmp_path, capsys):
    record = fabricated(tmp_path / "made")
    cut = download(record, tmp_path / "downloaded", drop=("seed", "provenance.data_sha256", "provenance.code.dirty"))
    assert rerun.main(["--rerun", str(cut), "--out", str(tmp_path / "out")]) == reproduce.CANNOT_RERUN
    error = capsys.readouterr().err
    assert error.startswith(f"trainer: cannot rerun: the record of run abc123 in {cut} is incomplete: it lacks ")
    assert "it lacks config.seed, config.provenance.data_sha256, config.provenance.code.dirty; " in error
    assert not (tmp_path / "out").exists()  # nothing is made before the record is found complete

    (cut / "files" / "predictions.csv").unlink()
    assert rerun.main(["--rerun", str(cut)]) == reproduce.CANNOT_RERUN
    assert "config.provenance.code.dirty, its predictions table (a predictions artifact's file, or files/" in (
        capsys.readouterr().err
    )
    (tmp_path / "empty").mkdir()
    assert rerun.main(["--rerun", str(tmp_path / "empty")]) == reproduce.CANNOT_RERUN
    assert "but it has neither" in capsys.readouterr().err


def test_at_commit_refuses_a_commit_the_repository_does_not_know(tmp_path, capsys):
    record = fabricated(tmp_path / "made", code={"commit": "0" * 40, "dirty": False, "repo": str(REPO_ROOT)})
    run_dir = download(record, tmp_path / "downloaded")
    assert rerun.main(["--rerun", str(run_dir), "--at-commit", "--out", str(tmp_path / "o")]) == 2
    assert f"the repository {REPO_ROOT} does not know commit {'0' * 40}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_at_commit_reruns_the_code_of_the_recorded_commit(tmp_path, subprocess_env, monkeypatch, capsys):
    # A stand-in trainer (tests/localsweep_programs/recorded.py as `python -m trainer`) in a repository of its own.
    repo = tmp_path / "repo"
    (repo / "trainer").mkdir(parents=True)
    (repo / "trainer" / "__init__.py").write_text("")
    shutil.copy(REPO_ROOT / "tests" / "localsweep_programs" / "recorded.py", repo / "trainer" / "__main__.py")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "before"], check=True)
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({k: {"value": v} for k, v in vars(TrainConfig(**TINY)).items()}))
    made = trainer(subprocess_env | {"WANDB_SWEEP_PARAM_PATH": str(params)}, cwd=repo)
    assert made.returncode == 0, made.stderr
    main = repo / "trainer" / "__main__.py"
    main.write_text(main.read_text().replace("SCALE = 1.0", "SCALE = 1.5"))  # today's code gives other numbers
    subprocess.run([*git, "commit", "-qam", "after"], check=True)

    (run_dir,) = (Path(subprocess_env["WANDB_DIR"]) / "wandb").glob("offline-run-*")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the stand-in imports `contract` from this checkout
    assert rerun.main(["--rerun", str(run_dir), "--at-commit", "--out", str(tmp_path / "old")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "identical"
    assert "compared predictions SHA-256" in lines[1]
    assert "recorded facts that differ now: none" in lines
    assert any(line.startswith("code: commit ") and line.endswith(f"of {repo.resolve()}") for line in lines)
    assert not (tmp_path / "old" / "code").exists()


@pytest.mark.slow
def test_a_trainer_run_reruns_bit_identical_from_its_record_and_from_wandbs_files(
    tmp_path, subprocess_env, trained_run
):
    run_dir = trained_run.run_dir  # the test run's one tiny trained run (the rerun writes only under --out)
    record = runlog.read_run(run_dir)
    facts = record.config[reproduce.PROVENANCE]
    assert {"python", "platform", "cpu", "gpu", "threads", "deterministic_ops", "objective"} <= set(facts)

    again = trainer(subprocess_env, "--rerun", run_dir, "--out", tmp_path / "again")
    assert again.returncode == 0, again.stdout + again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] == "identical"
    names = ("predictions SHA-256", "val_accuracy", "val_loss", "val_auroc", "test/accuracy", "test/auroc_macro")
    for name in (*names, "test/loss", "epochs"):
        assert any(line.startswith(f"compared {name}: ") and line.endswith("(same)") for line in lines), name
    assert "recorded facts that differ now: none" in lines
    assert json.loads((tmp_path / "again" / "rerun.json").read_text())["status"] == "identical"

    downloaded = download(record, tmp_path / "downloaded")
    from_files = trainer(subprocess_env, "--rerun", downloaded, "--out", tmp_path / "files")
    assert from_files.returncode == 0, from_files.stdout + from_files.stderr
    assert from_files.stdout.splitlines()[0] == "identical"
