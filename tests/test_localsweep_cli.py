"""The command line's answers to bad input: one line, the rule, exit code 2 (in-process, no sweep runs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localsweep.cli.main import main
from localsweep.storage.store import STORAGE_VAR


def test_a_negative_kill_delay_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", str(tmp_path / "s.yaml"), "--kill-delay", "-1"])
    assert exited.value.code == 2
    assert "--kill-delay: must be a number of seconds >= 0, but got -1" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["status", "best", "resume", "sync"])
def test_no_sweep_yet_says_how_to_start_one(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: no sweep under {tmp_path}/ yet: start one with `python -m localsweep run SWEEP.yaml`" in err


def test_an_unknown_sweep_name_lists_the_sweeps_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "nope", "--root", str(tmp_path)]) == 2
    assert f"sweep 'nope' not found under {tmp_path}/ (sweeps there: none)" in capsys.readouterr().err


def test_create_exist_ok_finds_the_same_sweep_and_refuses_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORAGE_VAR, raising=False)
    (tmp_path / "train.py").write_text("")
    body = "program: train.py\nmethod: grid\nparameters:\n  x: {values: [%s]}\n"
    (tmp_path / "a.yaml").write_text(body % "1, 2")
    (tmp_path / "b.yaml").write_text(body % "1, 3")
    where = ["--name", "s", "--root", str(tmp_path / "sweeps")]
    assert main(["create", "a.yaml", *where]) == 0
    assert main(["create", "a.yaml", *where]) == 2  # without --exist-ok a second create is refused
    assert "choose another --name" in capsys.readouterr().err
    assert main(["create", "a.yaml", *where, "--exist-ok"]) == 0
    assert capsys.readouterr().out == "s\n"
    assert main(["create", "b.yaml", *where, "--exist-ok"]) == 2
    assert "sweep 's' exists with a different search (recorded from a.yaml), not the one in b.yaml" in (
        capsys.readouterr().err
    )


def test_a_default_name_is_made_valid_from_the_yaml_file_name_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("")
    long = "my study of learning rates for the small mlp, again (v2)"
    (tmp_path / f"{long}.yaml").write_text("program: train.py\nmethod: grid\nparameters:\n  x: {values: [1]}\n")
    assert main(["create", f"{long}.yaml", "--root", str(tmp_path / "sweeps")]) == 0
    out, err = capsys.readouterr()
    name = out.splitlines()[0]
    assert re.fullmatch(r"my-study-of-learning-rates-for-the-small-mlp-\d{8}-\d{6}", name), name
    assert f"sweep name: {name} (made from {long}.yaml; --name chooses another)" in err


def test_status_of_a_sweep_without_trials_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("")
    (tmp_path / "s.yaml").write_text("program: train.py\nmethod: grid\nparameters:\n  x: {values: [1]}\n")
    assert main(["create", "s.yaml", "--name", "e", "--root", "sweeps"]) == 0
    capsys.readouterr()
    assert main(["status", "e", "--root", "sweeps"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-2:] == ["not ended: `python -m localsweep resume e` continues it", "no trials yet"]
