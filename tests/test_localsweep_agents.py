"""One sweep, many hosts: agents in separate processes and folders share a sweep on a real PostgreSQL server.

"Hosts" here are processes with their own working directory, sweep folder and ``LOCALSWEEP_HOST`` name, so the
controller judges them as it judges other machines: by their heartbeats (``LOCALSWEEP_STALE_AFTER`` is short).
A killed host is a SIGKILL of its agent's process group and of its trials; a network cut is a SIGSTOP of the
agent (no heartbeat, no writes) while its trial runs on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from localsweep.core.trial import Trial
from localsweep.storage.store import Location, SweepStore
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_PROGRAM, signal_at
from tests.postgres_server import Server
from tests.wandb_boundary import ENTITY, SWEEP_NAME, fake_wandb_server

PROGRAM = REPO_ROOT / ECHO_PROGRAM
STALE_AFTER_S = 5
CALM_STALE_AFTER_S = 60
"""Where no host dies or is cut off: a heartbeat late by seconds on a loaded machine (the suite's parallel workers on
two cores) must not get a live agent's trial given up, which these tests count as run twice."""

pytestmark = pytest.mark.slow


def create(tmp_path: Path, env: dict[str, str], url: str, points: int, sleep: float) -> None:
    sweep_yaml = tmp_path / "sweep.yaml"
    sweep_yaml.write_text(
        f"program: {PROGRAM}\nmethod: grid\nmetric: {{name: score, goal: maximize}}\nparameters:\n"
        f"  x: {{values: {list(range(1, points + 1))}}}\n  sleep: {{value: {sleep}}}\n  epochs: {{value: 3}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "localsweep", "create", str(sweep_yaml), "--name", "g", "--storage", url],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "g"


def agent(
    tmp_path: Path, env: dict[str, str], url: str, host: str, *args: str, stale_after: float = STALE_AFTER_S
) -> subprocess.Popen[str]:
    """An agent on "host": its own working directory and sweep folder, its own name; it judges other hosts dead
    after ``stale_after`` seconds without a heartbeat."""
    home = tmp_path / host
    home.mkdir(exist_ok=True)
    host_env = {**env, "LOCALSWEEP_HOST": host, "LOCALSWEEP_STALE_AFTER": str(stale_after)}
    return subprocess.Popen(
        [sys.executable, "-m", "localsweep", "agent", "g", "--storage", url, "--root", str(home / "sweeps"), *args],
        cwd=home, env=host_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def finish(process: subprocess.Popen[str], code: int = 0) -> str:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code, stderr
    assert f"{os.sep}localsweep{os.sep}" not in stderr, stderr  # no traceback through the engine
    return stderr


def trials(url: str, tmp_path: Path) -> list[Trial]:
    return SweepStore.connect(Location("g", tmp_path, url)).trials()


def wait_for(url: str, tmp_path: Path, ready: Any, timeout: float = 120.0) -> list[Trial]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = trials(url, tmp_path)
        if ready(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out; trials: {[(t.state, t.agent) for t in trials(url, tmp_path)]}")


def assert_each_point_finished_once(url: str, tmp_path: Path, points: int) -> list[Trial]:
    final = trials(url, tmp_path)
    finished = [t for t in final if t.state == "finished"]
    assert sorted(t.config["x"] for t in finished) == list(range(1, points + 1))
    assert all(t.state == "finished" or t.requeued for t in final), [(t.state, t.error) for t in final]
    for t in finished:  # each run is in the folder of the host whose agent ran it
        assert t.run_dir is not None
        assert t.host is not None
        assert t.run_dir.is_relative_to(tmp_path / t.host)
        assert t.summary["score"] == t.config["x"] * 3
    return final


def kill_host(process: subprocess.Popen[str], url: str, tmp_path: Path, host: str) -> None:
    """A machine dying: its agent, its pooled workers and its trials, all at once."""
    for t in trials(url, tmp_path):
        if t.host == host and t.state == "running" and t.pid is not None:
            os.killpg(t.pid, signal.SIGKILL)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


@pytest.fixture
def env(subprocess_env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in subprocess_env.items() if k != "LOCALSWEEP_STORAGE"}


def test_three_agents_on_three_hosts_run_every_grid_point_exactly_once(tmp_path, env, postgres_url):
    create(tmp_path, env, postgres_url, points=12, sleep=0.2)
    agents = [agent(tmp_path, env, postgres_url, f"host-{i}", stale_after=CALM_STALE_AFTER_S) for i in range(3)]
    for process in agents:
        finish(process)
    final = assert_each_point_finished_once(postgres_url, tmp_path, 12)
    assert len(final) == 12  # nothing given up, nothing run twice
    assert len({t.host for t in final}) >= 2  # the work was shared
    status = subprocess.run(
        [sys.executable, "-m", "localsweep", "status", "g", "--storage", postgres_url, "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert '"finished": 12' in status.stdout  # from any host that reaches the database


def test_a_dead_agents_trial_is_given_up_after_the_heartbeat_timeout_and_runs_again(tmp_path, env, postgres_url):
    create(tmp_path, env, postgres_url, points=6, sleep=1.0)
    doomed = agent(tmp_path, env, postgres_url, "host-doomed")
    (taken,) = wait_for(postgres_url, tmp_path, lambda ts: any(t.state == "running" for t in ts))
    kill_host(doomed, postgres_url, tmp_path, "host-doomed")
    survivor = agent(tmp_path, env, postgres_url, "host-survivor")
    given_up = wait_for(
        postgres_url, tmp_path, lambda ts: any(t.run_id == taken.run_id and t.state == "crashed" for t in ts)
    )
    lost = next(t for t in given_up if t.run_id == taken.run_id)
    assert lost.requeued
    assert (lost.error or "").startswith("interrupted: ")
    stderr = finish(survivor)
    assert "took the controller role" in stderr
    assert f"of a dead agent ({taken.agent}): recorded crashed" in stderr
    assert_each_point_finished_once(postgres_url, tmp_path, 6)


def test_the_controller_dies_and_another_agent_takes_over_losing_and_repeating_nothing(tmp_path, env, postgres_url):
    create(tmp_path, env, postgres_url, points=10, sleep=0.3)
    first = agent(tmp_path, env, postgres_url, "host-first")
    wait_for(postgres_url, tmp_path, lambda ts: sum(t.state == "finished" for t in ts) >= 2)
    others = [agent(tmp_path, env, postgres_url, f"host-{i}") for i in (2, 3)]
    wait_for(postgres_url, tmp_path, lambda ts: len({t.agent for t in ts if t.agent}) >= 2)
    holder, _ = SweepStore.connect(Location("g", tmp_path, postgres_url)).controller()
    assert holder is not None
    assert holder.host == "host-first"
    kill_host(first, postgres_url, tmp_path, "host-first")
    stderr = [finish(process) for process in others]
    assert sum("took the controller role" in text for text in stderr) >= 1
    final = assert_each_point_finished_once(postgres_url, tmp_path, 10)
    assert Counter(str(t.state) for t in final)["finished"] == 10


def test_postgresql_restarted_mid_sweep_the_agents_retry_and_finish(tmp_path, env, postgres: Server, postgres_url):
    create(tmp_path, env, postgres_url, points=8, sleep=0.3)
    agents = [agent(tmp_path, env, postgres_url, f"host-{i}") for i in range(2)]
    wait_for(postgres_url, tmp_path, lambda ts: sum(t.state == "finished" for t in ts) >= 2)
    postgres.stop()
    time.sleep(3)  # every agent finds the database gone, several times
    postgres.start()
    for process in agents:
        finish(process)
    final = assert_each_point_finished_once(postgres_url, tmp_path, 8)
    assert len(final) == 8


def test_an_agent_cut_off_and_back_late_does_not_count_twice(tmp_path, env, postgres_url):
    create(tmp_path, env, postgres_url, points=4, sleep=2.0)
    cut = agent(tmp_path, env, postgres_url, "host-cut")
    (taken,) = wait_for(postgres_url, tmp_path, lambda ts: any(t.state == "running" for t in ts))
    cut.send_signal(signal.SIGSTOP)  # no heartbeat, no writes; its trial runs on and finishes its wandb run
    other = agent(tmp_path, env, postgres_url, "host-other")
    wait_for(postgres_url, tmp_path, lambda ts: any(t.run_id == taken.run_id and t.state == "crashed" for t in ts))
    wait_for(postgres_url, tmp_path, lambda ts: any(t.config == taken.config and t.state == "finished" for t in ts))
    cut.send_signal(signal.SIGCONT)
    late = finish(cut)
    assert f"{taken.run_id} was given up by the sweep while this agent could not reach its store" in late
    finish(other)
    final = assert_each_point_finished_once(postgres_url, tmp_path, 4)
    assert next(t for t in final if t.run_id == taken.run_id).state == "crashed"  # its late result was refused


def test_an_agent_stopped_inside_a_transaction_does_not_stall_the_others(tmp_path, env, postgres_url):
    """Stopped (SIGSTOP: a frozen VM, a host cut off) at a moment a timed signal hits only by luck: the controller
    inside its transaction, holding the lease's row. The other agent must take the role over and run the sweep;
    before, it waited on that row lock for as long as the server believed the stopped session alive (for ever)."""
    create(tmp_path, env, postgres_url, points=4, sleep=0.2)
    stop_env = signal_at(env, "localsweep.storage.store:add", signal.SIGSTOP)
    stopped = agent(tmp_path, stop_env, postgres_url, "host-stopped")
    try:
        while Path(f"/proc/{stopped.pid}/stat").read_text().split(") ")[1][0] != "T":  # stopped in `add`
            time.sleep(0.1)
        finish(agent(tmp_path, env, postgres_url, "host-other"))
    finally:
        stopped.send_signal(signal.SIGCONT)
    finish(stopped)
    assert_each_point_finished_once(postgres_url, tmp_path, 4)
    assert {t.host for t in trials(postgres_url, tmp_path)} == {"host-other"}


def test_sync_from_each_host_uploads_its_runs_and_the_last_one_makes_the_w_and_b_sweep(tmp_path, env, postgres_url):
    create(tmp_path, env, postgres_url, points=6, sleep=0.2)
    calm = CALM_STALE_AFTER_S
    for process in [
        agent(tmp_path, env, postgres_url, f"host-{i}", "--count", "3", stale_after=calm) for i in range(2)
    ]:
        finish(process)
    by_host = Counter(str(t.host) for t in trials(postgres_url, tmp_path))
    assert by_host == {"host-0": 3, "host-1": 3}
    with fake_wandb_server() as (url, received):
        sync_env = {**env, "WANDB_BASE_URL": url, "WANDB_API_KEY": "k" * 40}

        def sync(host: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "localsweep", "sync", "g", "--storage", postgres_url, "--project", "p",
                 "--root", str(tmp_path / host / "sweeps")],
                cwd=tmp_path / host, env={**sync_env, "LOCALSWEEP_HOST": host}, capture_output=True, text=True,
                timeout=300, check=True,
            )  # fmt: skip

        # A run dir a host can read is its to upload: host-1's disk is out of host-0's reach while host-0 syncs.
        (tmp_path / "host-1").rename(tmp_path / "host-1-away")
        first = sync("host-0")
        (tmp_path / "host-1-away").rename(tmp_path / "host-1")
        second = sync("host-1")
    assert "runs still to upload lie on: host-1 (3)" in first.stderr
    assert f"wandb agent {ENTITY}/p/{SWEEP_NAME}" in second.stdout
    uploaded = {bucket["name"] for bucket in received.named("UpsertBucket")}
    (sweep,) = received.named("UpsertSweep")
    run_ids = [t.run_id for t in trials(postgres_url, tmp_path)]
    assert uploaded == set(run_ids)
    assert json.loads(sweep["priorRunsFilters"]) == {"$or": [{"name": run_id} for run_id in run_ids]}
