"""Every way a sweep stops leaves a record you can trust: signals at seeded moments, two controllers, exit codes.

The trials are the tiny echo program (real wandb, offline; no TensorFlow), so each trial takes a second or two.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from localsweep.cli.main import main
from localsweep.core.runlog import read_run
from localsweep.core.trial import Trial
from tests.conftest import REPO_ROOT, recorded
from tests.conftest import stored_trials as trials
from tests.localsweep_cli import ECHO_FUNCTION, ECHO_PROGRAM, finish, signal_at, start, wait_for

pytestmark = pytest.mark.slow


def write_yaml(tmp_path: Path, parameters: str, metric: str = "score", extra: str = "") -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"program: {ECHO_PROGRAM}\nmethod: grid\nmetric: {{name: {metric}, goal: maximize}}\n{extra}"
        f"parameters:\n{parameters}"
    )
    return path


def point(config: dict[str, Any]) -> tuple[int, int]:
    return config["x"], config["epochs"]


def completed_runs(sweep: Path) -> dict[str, tuple[int, int]]:
    """The run id and grid point of every wandb run that finished with exit code 0, read from the run dirs."""
    # A run stopped inside wandb.init may have a run dir but no record log yet.
    records = (read_run(log.parent) for log in (sweep / "wandb").glob("offline-run-*/run-*.wandb"))
    return {r.run_id: point(r.config) for r in records if r.exit_code == 0}


def assert_record_agrees_with_the_runs(sweep: Path) -> None:
    """No trial left running, and every wandb run that finished is a trial recorded finished (with its run dir)."""
    by_id = {t.run_id: t for t in trials(sweep)}
    assert all(t.state != "running" for t in by_id.values())
    for run_id in completed_runs(sweep):
        assert by_id[run_id].state == "finished", by_id[run_id]
        assert by_id[run_id].run_dir is not None
    for t in by_id.values():
        requeued = t.requeued and (t.error or "").startswith("interrupted: ")
        never_started = t.state == "pending" and t.run_dir is None and t.pid is None  # suggested, not yet claimed
        assert t.state == "finished" or requeued or never_started, t


@pytest.mark.timeout(1800)  # many moments, each a controller's start-up: minutes in parallel runs
@pytest.mark.backend
@pytest.mark.parametrize(("mode", "moments"), [([], 20), (["--function", ECHO_FUNCTION], 6)], ids=["command", "pooled"])
def test_ctrl_c_and_sigterm_at_seeded_moments_keep_every_finished_run(
    tmp_path, subprocess_env, storage_backend, mode, moments
):
    # Short (~1.2 s) and long (~2.7 s) trials, one or two at a time: signals land during start-up, wandb.init,
    # logging, run.finish, artifact writes and the launch of the next trial. On PostgreSQL, the test
    # takes half the moments (the same seeds, so the first half of SQLite's): it checks the backend, not the timing.
    if storage_backend is not None:
        moments //= 2
    xs = list(range(1, 21))
    sweep_yaml = write_yaml(
        tmp_path, f"  x: {{values: {xs}}}\n  epochs: {{values: [1, 6]}}\n  sleep: {{value: 0.25}}\n"
    )
    points = sorted((x, e) for x in xs for e in (1, 6))
    sweep = tmp_path / "k"
    rng = random.Random(2024)
    kept: dict[str, Trial] = {}
    for moment in range(moments):
        known = len(trials(sweep))
        command = ["resume", "k"] if recorded(sweep) else ["run", sweep_yaml, "--name", "k", *mode]
        workers = str(1 + moment % 2)
        # A session of its own, like a shell job: Ctrl-C reaches its whole process group.
        process = start(
            subprocess_env, *command, "--root", tmp_path, "--workers", workers, "--kill-delay", "20",
            start_new_session=True,
        )  # fmt: skip
        if moment < 2:  # during start-up: the store being created, the first trial being launched
            time.sleep(rng.uniform(0.5, 2.5))
        else:
            wait_for(sweep, lambda ts, known=known: len(ts) > known)
            time.sleep(rng.uniform(0.0, 2.5))
        assert process.poll() is None, "the sweep ended before the signal: make the grid larger"
        signum = signal.SIGINT if moment % 2 == 0 else signal.SIGTERM
        if signum == signal.SIGINT:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground process group
        else:
            process.send_signal(signal.SIGTERM)  # docker stop, kill, a scheduler
        stderr = finish(process, 128 + signum)
        if moment >= 2:
            assert f"continue with: python -m localsweep resume k --root {tmp_path}" in stderr
        now = {t.run_id: t for t in trials(sweep)}
        assert all(now[run_id] == trial for run_id, trial in kept.items())  # finished trials never change
        kept.update({run_id: t for run_id, t in now.items() if t.state == "finished"})
        assert_record_agrees_with_the_runs(sweep)
    finish(start(subprocess_env, "resume", "k", "--root", tmp_path, "--workers", "2"), 0)
    final = trials(sweep)
    assert all(t in final for t in kept.values())
    finished = [t for t in final if t.state == "finished"]
    assert sorted(point(t.config) for t in finished) == points  # each grid point finished exactly once
    assert Counter(completed_runs(sweep).values()) == Counter(points)  # and the run dirs say the same
    assert_record_agrees_with_the_runs(sweep)


@pytest.mark.backend
def test_resume_while_the_controller_lives_is_refused_and_changes_nothing(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2]}\n  sleep: {value: 600}\n")
    sweep = tmp_path / "b"
    first = start(subprocess_env, "run", sweep_yaml, "--name", "b", "--root", tmp_path, "--kill-delay", "5")
    (running,) = wait_for(sweep, lambda ts: len(ts) == 1 and (sweep / f"echo-{ts[0].run_id}.json").exists())
    second = start(subprocess_env, "resume", "b", "--root", tmp_path)
    stderr = finish(second, 75)
    assert f"error: sweep b is being run by another controller (pid {first.pid} on host " in stderr
    status = subprocess.run(
        [sys.executable, "-m", "localsweep", "status", "b", "--root", str(tmp_path)],
        cwd=REPO_ROOT, env=subprocess_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"controller: running (pid {first.pid} on host " in status.stdout
    assert trials(sweep) == [running]  # untouched: still running, its process alive
    assert first.poll() is None
    first.send_signal(signal.SIGTERM)
    finish(first, 143)
    (ended,) = trials(sweep)
    assert ended.state == "crashed"
    assert ended.requeued


@pytest.mark.backend
def test_status_says_when_the_controller_is_dead(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n  sleep: {value: 600}\n")
    sweep = tmp_path / "d"
    process = start(subprocess_env, "run", sweep_yaml, "--name", "d", "--root", tmp_path, start_new_session=True)
    wait_for(sweep, lambda ts: len(ts) == 1 and ts[0].state == "running")  # claimed, not only suggested
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    status = subprocess.run(
        [sys.executable, "-m", "localsweep", "status", "d", "--root", str(tmp_path)],
        cwd=REPO_ROOT, env=subprocess_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"controller: dead (pid {process.pid} on host " in status.stdout
    assert f"its process {process.pid} is gone): `python -m localsweep resume d` continues" in status.stdout
    assert "running, no controller" in status.stdout


def run_sweep(env: dict[str, str], tmp_path: Path, sweep_yaml: Path, code: int, *extra: str, **finish_: bool) -> str:
    return finish(start(env, "run", sweep_yaml, "--name", "s", "--root", tmp_path, *extra), code, **finish_)


def test_a_grid_where_every_trial_failed_exits_1_with_the_first_error(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2]}\n  fail: {value: true}\n")
    stderr = run_sweep(subprocess_env, tmp_path, sweep_yaml, 1, trial_tracebacks=True)  # the trials' RuntimeError
    assert "grid exhausted: every point has run; no trial succeeded: all 2 failed. The first, trial 1" in stderr
    assert "RuntimeError: asked to fail with x=1" in stderr


def test_refused_parameters_stop_the_sweep_at_the_first_trial_with_its_message(tmp_path, subprocess_env, capsys):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2, 3]}\n  typo_rate: {value: 0.1}\n")
    stderr = run_sweep(subprocess_env, tmp_path, sweep_yaml, 2)
    assert len(trials(tmp_path / "s")) == 1
    assert "refused its parameters (exit code 2" in stderr
    assert "echo_config.py: error: unrecognized arguments: --typo_rate=0.1" in stderr
    assert main(["status", "s", "--root", str(tmp_path)]) == 0  # why the sweep ended, kept in its store
    status = capsys.readouterr().out
    assert "\nended: trial 1 (" in status
    assert ") refused its parameters (exit code 2, " in status
    assert "echo_config.py: error: unrecognized arguments: --typo_rate=0.1 (exit code 2)" in status  # its cause


def test_a_metric_never_logged_stops_the_sweep_after_one_trial(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2, 3]}\n", metric="val_acc")
    stderr = run_sweep(subprocess_env, tmp_path, sweep_yaml, 2)
    (only,) = trials(tmp_path / "s")
    assert only.state == "finished"
    assert "the sweep's metric 'val_acc' was never logged by trial 1" in stderr
    assert "It logged: epoch, score. Fix metric.name in the sweep YAML" in stderr


def test_an_engine_localsweep_does_not_run_is_refused_before_a_sweep_folder_exists(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n", extra="scheduler: {engine: ax}\n")
    sweep_yaml.write_text(sweep_yaml.read_text().replace("method: grid", "method: custom"))
    stderr = run_sweep(subprocess_env, tmp_path, sweep_yaml, 2)
    assert "scheduler.engine: W&B's schema accepts 'ax', but localsweep runs `method: custom` with Optuna" in stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("mode", [[], ["--function", "trainer.train:agent_function"]], ids=["command", "pooled"])
def test_the_trainer_refusing_a_typo_stops_the_sweep_with_its_own_message(tmp_path, subprocess_env, mode):
    sweep_yaml = tmp_path / "typo.yaml"
    sweep_yaml.write_text(
        "program: trainer\nmethod: grid\nmetric: {name: val_accuracy, goal: maximize}\n"
        "command: ['${env}', '${interpreter}', '-m', 'trainer', '${args}']\n"
        "parameters:\n  learnin_rate: {values: [0.1, 0.01]}\n  train_size: {value: 200}\n"
    )
    stderr = run_sweep(subprocess_env, tmp_path, sweep_yaml, 2, *mode)
    assert len(trials(tmp_path / "s")) == 1
    assert "trainer: error: unknown config key(s) ['learnin_rate']" in stderr


def test_a_stop_while_a_pooled_worker_imports_the_trial_function_waits_for_the_import(tmp_path, subprocess_env):
    # A stop raised inside an import cuts it in half; inside a C extension's initialisation (TensorFlow's pybind11
    # modules) it surfaces as "ImportError: initialization failed" and leaves the module broken for the worker's
    # later trials. The worker now finishes the import, then ends the trial.
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2]}\n  epochs: {value: 1}\n")
    sweep = tmp_path / "s"
    process = start(
        subprocess_env, "run", sweep_yaml, "--name", "s", "--root", tmp_path, "--kill-delay", "60",
        "--function", "tests.localsweep_programs.slow_import:main",
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(sweep.glob("import-started-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (started,) = sweep.glob("import-started-*")
    process.send_signal(signal.SIGTERM)
    finish(process, 143)
    assert (sweep / started.name.replace("started", "done")).exists()  # the import was not cut in half
    (trial,) = trials(sweep)
    assert trial.requeued
    assert (trial.error or "").startswith("interrupted: the sweep stopped before this trial's wandb run finished")


@pytest.mark.parametrize(
    ("point", "signum"),
    [
        ("localsweep.cli.main:_create", signal.SIGINT),  # validating the YAML, before the store exists
        ("localsweep.storage.store:acquire_lease", signal.SIGTERM),  # the store made, the lease being taken
        ("localsweep.run.agent:run", signal.SIGINT),  # the agent starting, its own handlers not yet installed
        ("localsweep.storage.seat:leave", signal.SIGTERM),  # the trials recorded, the agent leaving
    ],
    ids=["create", "lease", "agent-start", "agent-leave"],
)
def test_a_signal_at_the_start_or_end_of_a_controllers_life_leaves_no_traceback(
    tmp_path, subprocess_env, point, signum
):
    env = signal_at(subprocess_env, point, signum)
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n  epochs: {value: 1}\n")
    finish(start(env, "run", sweep_yaml, "--name", "s", "--root", tmp_path, start_new_session=True), 128 + signum)
    sweep = tmp_path / "s"
    if point.endswith(":_create"):
        assert not sweep.exists()  # stopped before anything was recorded
    else:
        assert_record_agrees_with_the_runs(sweep)
    if point.endswith(":leave"):
        assert [t.state for t in trials(sweep)] == ["finished"]


@pytest.mark.parametrize(
    ("command", "point"),
    [
        ("dashboard", "uvicorn:<module>"),  # the web libraries
        ("sync", "localsweep.cli.sync:<module>"),  # W&B's bridge
        ("rerun", "localsweep.workers.alone:<module>"),  # the slot the trial runs again in
    ],
)
def test_ctrl_c_during_a_commands_own_imports_stops_it_before_it_starts_its_work(
    tmp_path, subprocess_env, command, point
):
    # A signal inside an import is recorded and acted on once the import is done. These commands import what only they
    # need in their first second and then work for minutes; the stop waited for their end: the dashboard served on
    # (uvicorn's handlers never heard of it: until a second Ctrl-C), sync asked W&B's server, rerun ran the trial.
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n  epochs: {value: 1}\n")
    finish(start(subprocess_env, "run", sweep_yaml, "--name", "s", "--root", tmp_path))
    # sync: a key, and nothing listening at the server's address (it is never asked)
    env = signal_at(subprocess_env, point, signal.SIGINT, WANDB_API_KEY="k" * 40, WANDB_BASE_URL="http://127.0.0.1:9")
    args = {"dashboard": ["s", "--port", "0"], "sync": ["s", "--project", "p"], "rerun": ["s", "1"]}[command]
    process = start(env, command, *args, "--root", tmp_path, start_new_session=True)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    out, err = process.communicate()
    assert process.returncode == 128 + signal.SIGINT, err
    assert (out, err) == ("", "")  # no dashboard address, no upload tried, no rerun's verdict, no traceback
    assert not [path for path in (tmp_path / "s").glob("reruns/*/*")]  # no trial ran again


@pytest.mark.parametrize(
    ("lost_as", "signum"), [("ImportError", signal.SIGTERM), ("ignored", signal.SIGINT)], ids=["extension", "callback"]
)
def test_a_stop_during_an_import_that_would_lose_the_handlers_exception_still_stops_the_sweep(
    tmp_path, subprocess_env, lost_as, signum
):
    # Both seen in a controller's first second, a signal landing while W&B's engine imported SciPy: under `docker
    # stop`, SciPy's FFT extension (pybind11) reported the handler's SystemExit as "ImportError: initialization
    # failed" (exit 1, a traceback); under Ctrl-C, an import lock's weakref callback printed "Exception ignored ...
    # SystemExit: 130" and the sweep ran to its end (exit 0). Here the same point, the same two ways of losing it.
    env = signal_at(subprocess_env, "sweeps.params:<module>", signum, SIGNAL_LOST_AS=lost_as)
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n  epochs: {value: 1}\n")
    finish(start(env, "run", sweep_yaml, "--name", "s", "--root", tmp_path, start_new_session=True), 128 + signum)
    assert not (tmp_path / "s").exists()  # stopped before anything was recorded
