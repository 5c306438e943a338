"""Faults an offline sweep must survive: kill -9 of the controller, a worker or a trial; hung trials; a full disk.

The trials are the tiny echo program (real wandb, offline), so each sweep takes seconds. What the semantics are:
a trial whose process dies (kill -9 of a command-mode trial or of a pooled worker) is recorded ``crashed`` with
how it died, and, as under ``wandb agent``, its grid point counts as searched (not re-queued; its metric is
imputed). Only a trial interrupted by the *controller's* death is re-queued, unless its run finished anyway:
``resume`` then records it finished.
"""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from localsweep.core.runlog import read_run
from localsweep.core.trial import Trial
from localsweep.run.orphans import trial_processes
from localsweep.storage.store import SweepStore
from tests.conftest import recorded
from tests.conftest import stored_trials as trials
from tests.localsweep_cli import ECHO_FUNCTION, ECHO_PROGRAM, finish, start, wait_for

MODES = pytest.mark.parametrize("mode", [[], ["--function", ECHO_FUNCTION]], ids=["command", "pooled"])

pytestmark = pytest.mark.slow


def write_yaml(tmp_path: Path, parameters: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"program: {ECHO_PROGRAM}\nmethod: grid\nmetric: {{name: score, goal: maximize}}\nparameters:\n{parameters}"
    )
    return path


def point(config: dict[str, Any]) -> tuple[int, int]:
    return config["x"], config["epochs"]


def completed_runs(sweep: Path) -> Counter[tuple[int, int]]:
    """How many wandb runs of each grid point ended with exit code 0, read from the run dirs themselves."""
    records = (read_run(d) for d in (sweep / "wandb").glob("offline-run-*"))
    return Counter(point(r.config) for r in records if r.exit_code == 0)


@pytest.mark.timeout(1800)  # many moments, each a controller's start-up: minutes in parallel runs
@pytest.mark.backend
def test_controller_killed_at_ten_random_moments_loses_and_repeats_nothing(tmp_path, subprocess_env):
    # Short (~1.4 s) and long (~3.5 s) trials: a killed controller's trial sometimes finishes before `resume`
    # starts (it must then count as finished) and sometimes not (resume ends it and re-queues its point).
    xs, epochs = list(range(1, 9)), [1, 8]
    sweep_yaml = write_yaml(
        tmp_path, f"  x: {{values: {xs}}}\n  epochs: {{values: {epochs}}}\n  sleep: {{value: 0.3}}\n"
    )
    points = sorted((x, e) for x in xs for e in epochs)
    sweep = tmp_path / "k"
    rng = random.Random(7)
    kept: dict[str, Trial] = {}
    kills = 0
    while kills < 10:
        known = len(trials(sweep))
        command = ["resume", "k"] if recorded(sweep) else ["run", sweep_yaml, "--name", "k"]
        process = start(subprocess_env, *command, "--root", tmp_path)
        if kills < 2:  # during start-up: the store being created, the first trial being launched
            time.sleep(rng.uniform(1.0, 3.0))
        else:  # at a random phase of a trial's life: init, logging, finish, next launch
            wait_for(sweep, lambda ts, known=known: len(ts) > known)
            time.sleep(rng.uniform(0.0, 2.5))
        assert process.poll() is None, "the sweep ended before 10 kills: make it longer"
        process.kill()
        process.communicate()
        kills += 1
        now = {t.run_id: t for t in trials(sweep)}
        # Every trial recorded finished before a kill is still there, unchanged.
        assert all(now[run_id] == trial for run_id, trial in kept.items())
        kept.update({run_id: t for run_id, t in now.items() if t.state == "finished"})
        time.sleep(rng.uniform(0.0, 1.0))  # before resume, an orphaned trial may finish its run
    finish(start(subprocess_env, "resume", "k", "--root", tmp_path))
    final = trials(sweep)
    assert all(t == next(f for f in final if f.run_id == t.run_id) for t in kept.values())
    finished = [t for t in final if t.state == "finished"]
    assert sorted(point(t.config) for t in finished) == points  # each grid point finished exactly once
    assert all(t.requeued and "interrupted" in (t.error or "") for t in final if t.state != "finished")
    # The run dirs agree: one completed wandb run per grid point, each the one the store points to.
    assert completed_runs(sweep) == Counter(points)
    assert all(t.run_dir is not None and point(read_run(t.run_dir).config) == point(t.config) for t in finished)


@pytest.mark.backend
def test_resume_ends_a_trial_its_killed_controller_left_running_and_requeues_its_grid_point(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2]}\n  sleep: {value: 600}\n")
    sweep = tmp_path / "o"
    process = start(subprocess_env, "run", sweep_yaml, "--name", "o", "--root", tmp_path)
    (first,) = wait_for(sweep, lambda ts: len(ts) == 1 and (sweep / f"echo-{ts[0].run_id}.json").exists())
    process.kill()
    process.communicate()
    sweep_id = SweepStore.open(sweep).sweep_id
    assert first.pid in trial_processes(sweep_id, [first.run_id])  # the orphan runs on
    resume = start(subprocess_env, "resume", "o", "--root", tmp_path, "--trial-timeout", "2", "--kill-delay", "1")
    finish(resume, code=1)  # every trial hangs: none succeeds
    ended = trials(sweep)
    assert ended[0].run_id == first.run_id
    assert (ended[0].state, ended[0].requeued) == ("crashed", True)
    assert (ended[0].error or "").startswith("interrupted: the sweep stopped before this trial's wandb run finished")
    # Its point ran again (and, hanging again, timed out), then the other point; nothing is left running.
    assert [(t.config["x"], t.state, t.requeued) for t in ended[1:]] == [(1, "crashed", False), (2, "crashed", False)]
    assert trial_processes(sweep_id, [t.run_id for t in ended]) == []


@pytest.mark.backend
@MODES
def test_kill_9_of_a_trial_process_records_it_crashed_and_the_sweep_goes_on(tmp_path, subprocess_env, mode):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2, 3]}\n  epochs: {value: 3}\n  sleep: {value: 0.5}\n")
    process = start(subprocess_env, "run", sweep_yaml, "--name", "w", "--root", tmp_path, *mode)
    sweep = tmp_path / "w"
    # Killed mid-run: once the first trial has logged (the echo program writes echo-<id>.json after wandb.init).
    (first,) = wait_for(sweep, lambda ts: len(ts) == 1 and (sweep / f"echo-{ts[0].run_id}.json").exists())
    assert first.pid is not None  # the trial process (command mode) or the pooled worker running it
    os.kill(first.pid, signal.SIGKILL)
    finish(process)
    ended = {t.config["x"]: t for t in trials(sweep)}
    assert len(ended) == 3  # the crashed point is not run again: like wandb agent, a crash counts as searched
    crashed = ended[1]
    assert crashed.state == "crashed"
    assert crashed.exit_code == -9
    died = "the worker process died (killed by signal SIGKILL" if mode else "killed by signal SIGKILL (exit code -9)"
    assert (crashed.error or "").startswith(died)
    assert crashed.metric_imputed
    assert [ended[x].state for x in (2, 3)] == ["finished", "finished"]
    assert trial_processes(SweepStore.open(sweep).sweep_id, [crashed.run_id]) == []


@pytest.mark.backend
@MODES
def test_hung_trial_times_out_crashed_and_resume_keeps_the_timeout(tmp_path, subprocess_env, mode):
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1, 2, 3]}\n  sleep: {value: 600}\n")
    sweep = tmp_path / "t"
    args = ("--root", tmp_path, "--kill-delay", "1")
    run = start(subprocess_env, "run", sweep_yaml, "--name", "t", "--count", "2", "--trial-timeout", "3", *args, *mode)
    finish(run, code=1)  # no trial succeeded
    resume = start(subprocess_env, "resume", "t", "--count", "1", *args)  # no --trial-timeout: the stored one holds
    finish(resume, code=1)
    store = SweepStore.open(sweep)
    assert store.settings["trial_timeout"] == 3.0
    ended = store.trials()
    assert [t.state for t in ended] == ["crashed"] * 3
    for trial in ended:
        assert (trial.error or "").startswith("timed out after 3 s (--trial-timeout), then ended: killed by signal")
        assert 3.0 < (trial.duration or 0.0) < 30.0
    assert trial_processes(store.sweep_id, [t.run_id for t in ended]) == []
    if mode:  # pooled: the hung worker was killed and a fresh one ran the next trial of the same run
        assert ended[0].pid != ended[1].pid


@pytest.mark.sqlite_only  # the sweep folder holds the SQLite store
def test_sweep_folder_under_a_regular_file_is_a_clear_error(tmp_path, subprocess_env):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    sweep_yaml = write_yaml(tmp_path, "  x: {values: [1]}\n")
    process = start(subprocess_env, "run", sweep_yaml, "--name", "u", "--root", blocker / "sweeps")
    stderr = finish(process, code=2)
    assert stderr.startswith("error: [Errno 20] Not a directory")


def _file_size_limit(limit: int) -> None:
    # What a full disk looks like to the controller: writes past `limit` bytes per file fail (EFBIG; Python
    # ignores SIGXFSZ), and SQLite reports "database or disk is full". Works as root, unlike chmod.
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.sqlite_only  # the full disk is the SQLite file's
def test_full_disk_mid_sweep_is_a_clear_error_and_the_store_stays_intact(tmp_path, subprocess_env):
    sweep_yaml = write_yaml(tmp_path, f"  x: {{values: {list(range(1, 9))}}}\n")
    sweep = tmp_path / "d"
    limit = 256 * 1024  # a few of the store's commits, enough for one trial or two
    process = start(
        subprocess_env, "run", sweep_yaml, "--name", "d", "--root", tmp_path, preexec_fn=lambda: _file_size_limit(limit)
    )
    stderr = finish(process, code=1)
    # SQLite says one or the other, depending on which write hit the limit.
    stopped = rf"\nerror: the sweep stopped \({sweep}\): OperationalError: (database or disk is full|disk I/O error)\n"
    assert re.search(stopped, stderr), stderr
    assert "nothing recorded so far is lost; once that is fixed: python -m localsweep resume d" in stderr
    before = [t for t in trials(sweep) if t.state == "finished"]
    assert 1 <= len(before) < 8
    assert all(t.run_dir is not None and t.summary["score"] == t.config["x"] for t in before)
    finish(start(subprocess_env, "resume", "d", "--root", tmp_path))
    after = trials(sweep)
    assert all(t in after for t in before)
    assert sorted(t.config["x"] for t in after if t.state == "finished") == list(range(1, 9))
