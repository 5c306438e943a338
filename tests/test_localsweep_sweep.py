"""Whole offline sweeps through the CLI, with a tiny echo program instead of TensorFlow (fast, real wandb)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localsweep.storage.store import SweepStore
from tests.conftest import REPO_ROOT, stored_trials
from tests.localsweep_cli import ECHO_FUNCTION, ECHO_PROGRAM

pytestmark = pytest.mark.slow


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"program: {ECHO_PROGRAM}\n{text}")
    return path


def localsweep(env: dict[str, str], *args: str | Path, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "localsweep", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


def echoes(sweep_dir: Path) -> dict[str, dict]:
    return {p.stem.removeprefix("echo-"): json.loads(p.read_text()) for p in sweep_dir.glob("echo-*.json")}


@pytest.mark.backend
def test_grid_sweep_runs_each_point_once_passing_parameters_like_wandb_agent(tmp_path, subprocess_env):
    sweep = write_yaml(
        tmp_path,
        "method: grid\nmetric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1, 2, 3]}\n  opt: {value: adam}\n",
    )
    done = localsweep(subprocess_env, "run", sweep, "--root", tmp_path, "--name", "g", "--workers", "2")
    assert "grid exhausted" in done.stderr
    store = SweepStore.open(tmp_path / "g")
    trials = store.trials()
    assert sorted(t.config["x"] for t in trials) == [1, 2, 3]
    assert {t.state for t in trials} == {"finished"}
    seen = echoes(tmp_path / "g")
    for t in trials:
        echo = seen[t.run_id]
        assert echo["argv"] == ["--opt=adam", f"--x={t.config['x']}"]
        assert echo["config"] == {"opt": "adam", "x": t.config["x"]}
        assert echo["param_file"] == f"wandb_version: 1\n\nopt:\n  value: adam\nx:\n  value: {t.config['x']}\n"
        assert echo["env"] == {
            "WANDB_MODE": "offline",
            "WANDB_RUN_ID": t.run_id,
            "WANDB_SWEEP_ID": None,  # not recorded in the run: `wandb sync` would fail on an unknown sweep
            "LOCALSWEEP_SWEEP_ID": store.sweep_id,
            "WANDB_DIR": str((tmp_path / "g").resolve()),
            "LOCALSWEEP_OBJECTIVE": '{"name": "score", "goal": "maximize"}',  # what the trainer restores its epoch by
        }
        assert echo["threads"] == str(max(1, len(os.sched_getaffinity(0)) // 2))
        assert echo["run_sweep_id"] is None  # the run record names no sweep
        assert (
            echo["project"] == "echo-project"
        )  # wandb.init(project=...) honoured: not ignored as it would be inside a sweep
        assert t.run_dir is not None
        assert t.run_dir.parent == (tmp_path / "g" / "wandb").resolve()
        assert t.summary["score"] == t.config["x"]
        assert t.metric_value == t.config["x"]
    best_trial = store.best_trial()
    assert best_trial is not None
    assert done.stdout.splitlines()[1].split()[:4] == ["3", best_trial.run_id, "finished", "3"]
    best = json.loads(localsweep(subprocess_env, "best", "--json", "--root", tmp_path).stdout)
    assert (best["sweep_name"], best["config"]["x"], best["metric_value"]) == ("g", 3, 3.0)
    assert Path(best["run_dir"]).is_dir()
    status = json.loads(localsweep(subprocess_env, "status", "g", "--json", "--root", tmp_path).stdout)
    assert status["counts"] == {"finished": 3}
    again = localsweep(subprocess_env, "resume", "g", "--root", tmp_path)
    assert "grid exhausted" in again.stderr
    assert len(SweepStore.open(tmp_path / "g").trials()) == 3


@pytest.mark.backend
def test_malformed_yaml_reports_every_violation_and_runs_nothing(tmp_path, subprocess_env):
    sweep = write_yaml(tmp_path, "method: grid\nparameters:\n  lr: {min: 1e-5, max: 0.1}\n  x: {values: 3}\n")
    done = localsweep(subprocess_env, "run", sweep, "--root", tmp_path, check=2)
    assert "3 problem(s), nothing was run" in done.stderr
    assert "parameters.lr.min: '1e-5' is a string" in done.stderr
    assert "parameters.x: {'values': 3} is not valid" in done.stderr
    assert not list(tmp_path.glob("sweep-*"))  # no sweep folder, and no record anywhere
    assert "sweep" not in localsweep(subprocess_env, "status", "--root", tmp_path, check=2).stdout


@pytest.mark.backend
def test_a_trial_that_raises_is_recorded_crashed_and_the_sweep_goes_on(tmp_path, subprocess_env):
    sweep = write_yaml(
        tmp_path,
        "method: grid\nmetric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [2, 5]}\n  fail: {values: [false, true]}\n",
    )
    localsweep(subprocess_env, "run", sweep, "--root", tmp_path, "--name", "c")
    trials = {(t.config["x"], t.config["fail"]): t for t in SweepStore.open(tmp_path / "c").trials()}
    assert len(trials) == 4
    crashed = trials[(5, True)]
    assert crashed.state == "crashed"
    assert crashed.exit_code == 1
    assert "RuntimeError: asked to fail with x=5" in (crashed.error or "")
    # metric.impute defaults to "worst": the lowest score of the terminal runs (2, from x=2).
    assert (crashed.metric_value, crashed.metric_imputed) == (2.0, True)
    assert trials[(5, False)].state == "finished"


def test_repeated_start_up_failures_stop_the_sweep(tmp_path, subprocess_env):
    sweep = write_yaml(tmp_path, "method: random\nparameters:\n  fail: {value: true}\n  x: {min: 0.0, max: 1.0}\n")
    done = localsweep(
        subprocess_env, "run", sweep, "--root", tmp_path, "--name", "f", "--max-initial-failures", "2", check=1
    )
    assert "2 trials failed and none succeeded" in done.stderr
    assert [t.state for t in SweepStore.open(tmp_path / "f").trials()] == ["crashed", "crashed"]


@pytest.mark.parametrize("mode", [[], ["--function", ECHO_FUNCTION]], ids=["command", "pooled"])
def test_hyperband_stops_the_trials_stop_runs_names(tmp_path, subprocess_env, mode):
    sweep = write_yaml(
        tmp_path,
        "method: grid\nmetric: {name: score, goal: maximize}\n"
        "early_terminate: {type: hyperband, min_iter: 2, eta: 2}\n"
        "parameters:\n  x: {values: [4, 3, 2, 1]}\n  epochs: {value: 10}\n  sleep: {value: 0.4}\n",
    )
    localsweep(subprocess_env, "run", sweep, "--root", tmp_path, "--name", "h", "--workers", "2", *mode)
    states = {t.config["x"]: (t.state, len(t.history)) for t in SweepStore.open(tmp_path / "h").trials()}
    # Score = x * (epoch + 1). At epoch 2 the threshold is the median of all runs: x=1 and x=2 fall below
    # it (x=2 at the latest at epoch 4); x=4 and x=3 never do.
    assert states[4] == ("finished", 10)
    assert states[3] == ("finished", 10)
    assert states[2][0] == states[1][0] == "stopped"
    assert states[2][1] < 10
    assert states[1][1] < 10


@pytest.mark.backend
def test_pooled_workers_run_many_trials_and_are_recycled(tmp_path, subprocess_env):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: random\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n")
    localsweep(
        subprocess_env,
        "run",
        sweep,
        "--root",
        tmp_path,
        "--name",
        "p",
        "--function",
        ECHO_FUNCTION,
        "--count",
        "3",
        "--max-trials-per-worker",
        "2",
        "--seed",
        "1",
    )
    trials = SweepStore.open(tmp_path / "p").trials()
    seen = echoes(tmp_path / "p")
    pids = [seen[t.run_id]["pid"] for t in trials]
    assert [t.state for t in trials] == ["finished"] * 3
    assert pids[0] == pids[1] != pids[2]
    assert [seen[t.run_id]["config"]["x"] for t in trials] == [t.config["x"] for t in trials]
    assert len({t.config["x"] for t in trials}) == 3


@pytest.mark.backend
def test_kill_9_then_resume_loses_no_finished_trial_and_repeats_no_grid_point(tmp_path, subprocess_env):
    sweep = write_yaml(
        tmp_path,
        "method: grid\nmetric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1, 2, 3, 4, 5]}\n  epochs: {value: 2}\n  sleep: {value: 0.3}\n",
    )
    controller = subprocess.Popen(
        [sys.executable, "-m", "localsweep", "run", str(sweep), "--root", str(tmp_path), "--name", "k"],
        cwd=REPO_ROOT,
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        trials = stored_trials(tmp_path / "k")
        if sum(t.state == "finished" for t in trials) >= 2 and trials[-1].state == "running":
            break
        time.sleep(0.1)
    os.kill(controller.pid, signal.SIGKILL)
    controller.wait()
    before = {t.run_id: t for t in SweepStore.open(tmp_path / "k").trials() if t.state == "finished"}
    assert len(before) >= 2
    done = localsweep(subprocess_env, "resume", "k", "--root", tmp_path)
    assert f"taking over sweep k from its last controller (pid {controller.pid} on " in done.stderr
    assert "the last controller left 1 trial(s) running" in done.stderr
    after = SweepStore.open(tmp_path / "k").trials()
    finished = [t for t in after if t.state == "finished"]
    assert sorted(t.config["x"] for t in finished) == [1, 2, 3, 4, 5]
    assert all(after_t == before[after_t.run_id] for after_t in finished if after_t.run_id in before)
    # The interrupted trial either finished its run after the kill (resume then records it finished) or was
    # ended by resume (then it is crashed and its grid point re-queued).
    crashed = [t for t in after if t.state == "crashed"]
    assert len(after) == 5 + len(crashed)
    assert all(t.requeued and "interrupted" in (t.error or "") for t in crashed)
