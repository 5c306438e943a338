"""The command line's answers to bad input: one line, the rule, exit code 2 (in-process, no sweep runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsweep.cli import main


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
