"""Trial endings a person must be told about plainly: a diverged metric, a crash behind wandb's footer, a timeout, a
process that fails after its run finished, and why the sweep ended (whole sweeps of a tiny program, real wandb).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from localsweep.cli.main import main
from localsweep.storage.store import SweepStore
from tests.localsweep_cli import finish, start

PROGRAM = "tests/localsweep_programs/endings.py"
FUNCTION = "tests.localsweep_programs.endings:main"

pytestmark = pytest.mark.slow


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"program: {PROGRAM}\nmetric: {{name: score, goal: maximize}}\n{text}")
    return path


def read(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    """What a read-only command (``status``, ``best``) prints, run in this process (no second start-up)."""
    capsys.readouterr()
    assert main([*map(str, args)]) == 0
    return capsys.readouterr().out


def strict_json(text: str) -> Any:
    """``text`` read as JSON that JavaScript, Go or jq accept: no NaN, Infinity or -Infinity."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_metric_that_diverges_at_some_grid_points_leaves_them_unscored_and_the_grid_runs_on(
    tmp_path, subprocess_env, capsys
):
    sweep_yaml = write_yaml(
        tmp_path, 'method: grid\nparameters:\n  score: {values: [1.0, "nan", 3.0, "inf", "-inf"]}\n'
    )
    stderr = finish(start(subprocess_env, "run", sweep_yaml, "--root", tmp_path, "--name", "d"), 0)
    assert "never logged" not in stderr
    assert "ended: grid exhausted: every point has run" in stderr
    trials = {t.config["score"]: t for t in SweepStore.open(tmp_path / "d").trials()}
    assert {t.state for t in trials.values()} == {"finished"}  # every point ran; W&B marks them finished too
    assert [(v, t.metric_value) for v, t in trials.items() if t.scored] == [(1.0, 1.0), (3.0, 3.0)]
    for shown, diverged in (("nan", "nan"), ("inf", "inf"), ("-inf", "-inf")):
        assert trials[shown].metric_imputed  # as W&B's bayes search imputes it (metric.impute: worst)
        assert trials[shown].error == (
            f"unscored: score was logged only as {diverged} (never a finite number: the run diverged)"
        )
    status = read(capsys, "status", "d", "--root", tmp_path)
    assert "ended: grid exhausted: every point has run" in status
    assert "finished (unscored)" in status
    assert "unscored: score was logged only as nan (never a finite number: the run diverged)" in status
    document = strict_json(read(capsys, "status", "d", "--json", "--root", tmp_path))
    assert document["best"]["config"] == {"score": 3.0}
    by_score = {t["config"]["score"]: t for t in document["trials"]}
    assert (by_score["nan"]["summary"]["score"], by_score["nan"]["non_finite"]) == (None, {"score": "NaN"})
    assert by_score["-inf"]["non_finite"] == {"score": "-Infinity"}
    assert by_score["inf"]["cause"].startswith("unscored: score was logged only as inf")
    assert strict_json(read(capsys, "best", "d", "--json", "--root", tmp_path))["run_id"]
    # A reader that stops reading (`status --json | head -c 10`): a quiet exit, as Unix tools make.
    reader = start(subprocess_env, "status", "d", "--json", "--root", tmp_path)
    assert reader.stdout is not None
    reader.stdout.close()
    _, stderr = reader.communicate(timeout=240)
    assert (reader.returncode, stderr) == (128 + signal.SIGPIPE, "")


def test_the_live_line_shows_a_crash_and_a_timeout_by_their_cause_not_wandbs_footer(tmp_path, subprocess_env):
    env = {k: v for k, v in subprocess_env.items() if k != "WANDB_SILENT"}  # wandb prints its coloured footer
    sweep_yaml = write_yaml(
        tmp_path, "method: grid\nparameters:\n  fail: {values: [true, false]}\n  sleep: {value: 600}\n"
    )
    process = start(
        env, "run", sweep_yaml, "--root", tmp_path, "--name", "c", "--trial-timeout", "15", "--kill-delay", "1"
    )
    stderr = finish(process, 1, trial_tracebacks=True)  # the trial's own RuntimeError, in the first trial's error
    assert "\x1b" not in stderr  # no terminal escape codes
    lines = stderr.splitlines()
    crashed = next(line for line in lines if line.startswith("trial 1 ") and " crashed" in line)
    assert crashed.endswith(" crashed score=0 (imputed) error: RuntimeError: boom (exit code 1)")
    timed_out = next(line for line in lines if line.startswith("trial 2 ") and " crashed" in line)
    assert " error: timed out after 15 s (--trial-timeout), then ended: " in timed_out
    assert "wandb" not in timed_out


@pytest.mark.parametrize("mode", [[], ["--function", FUNCTION]], ids=["command", "pooled"])
def test_a_process_that_fails_after_its_run_finished_keeps_its_result_and_shows_its_exit_and_message(
    tmp_path, subprocess_env, capsys, mode
):
    sweep_yaml = write_yaml(
        tmp_path,
        "method: random\nrun_cap: 1\nparameters:\n  score: {value: 2.0}\n"
        "  exit_after: {value: checkpoint upload failed}\n",
    )
    stderr = finish(start(subprocess_env, "run", sweep_yaml, "--root", tmp_path, "--name", "x", *mode), 0)
    cause = "checkpoint upload failed (after its wandb run finished, its process failed: exit code 1)"
    assert f"finished score=2 note: {cause}" in stderr
    (trial,) = SweepStore.open(tmp_path / "x").trials()
    assert (trial.state, trial.metric_value, trial.exit_code) == ("finished", 2.0, 1)
    assert (trial.error or "").startswith("after its wandb run finished, its process failed: exit code 1\n")
    status = read(capsys, "status", "x", "--root", tmp_path)
    assert "ended: run_cap 1 reached" in status
    assert "finished (exit 1)" in status
    assert f"trial 1 {trial.run_id} finished: {cause}" in status
    document = strict_json(read(capsys, "status", "x", "--json", "--root", tmp_path))
    assert document["ended"] == {"reason": "run_cap 1 reached", "exit_code": None, "interrupt": False}
    assert (document["trials"][0]["exit_code"], document["trials"][0]["cause"]) == (1, cause)
    best = read(capsys, "best", "x", "--root", tmp_path)
    assert f"best of x: {trial.run_id} score=2 (finished)" in best  # still ranked: its wandb run finished
    assert f"note: {cause}" in best
