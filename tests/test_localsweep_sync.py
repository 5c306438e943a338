"""``localsweep sync`` makes a finished offline sweep a real W&B sweep, checked up to the network boundary.

No W&B server runs here: W&B's own code (the ``wandb sync`` CLI and ``wandb.sweep``) sends its requests to a
loopback server that records them (tests/wandb_boundary.py). What a real server does with them is not verified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localsweep.bridge.sync import create_sweep, plan
from localsweep.core.runlog import read_run
from localsweep.storage.store import SweepStore
from tests.wandb_boundary import ENTITY, SWEEP_NAME, fake_wandb_server

REPO_ROOT = Path(__file__).resolve().parents[1]
PROGRAM = "tests/localsweep_programs/echo_config.py"
FAKE_KEY = "k" * 40

# The sweep is made once per module, before any test's storage backend is chosen: a SQLite sweep (sync on
# PostgreSQL, across hosts, is tests/test_localsweep_agents.py).
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]


def localsweep(env: dict[str, str], *args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "localsweep", *map(str, args)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    return done


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished offline grid of three trials (the echo program, real wandb offline runs), made once."""
    root = tmp_path_factory.mktemp("sync")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(REPO_ROOT)}
    env |= {var: str(root / var.lower()) for var in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR")}
    sweep_yaml = root / "sweep.yaml"
    sweep_yaml.write_text(
        f"program: {PROGRAM}\nmethod: grid\nproject: mnist-sweeps\nmetric: {{name: score, goal: maximize}}\n"
        "parameters:\n  x: {values: [1, 2, 3]}\n"
    )
    localsweep(env, "run", sweep_yaml, "--root", root, "--name", "g")
    return root / "g"


def test_offline_runs_name_no_sweep_so_the_server_will_accept_them(finished_sweep: Path) -> None:
    for trial in SweepStore.open(finished_sweep).trials():
        assert trial.run_dir is not None
        record = read_run(trial.run_dir)
        assert record.sweep_id is None  # a local sweep id would make `wandb sync` fail with 404
        assert record.project == "echo-project"  # wandb.init(project=...) is honoured, not the checkout's name


def test_sync_without_a_key_says_what_it_would_run_and_fails(finished_sweep: Path, subprocess_env) -> None:
    done = localsweep(subprocess_env, "sync", "g", "--root", finished_sweep.parent, code=1)
    assert "no W&B API key" in done.stderr
    assert "-m wandb sync --project mnist-sweeps " in done.stderr
    assert "-m wandb sweep --project mnist-sweeps --name g --prior_run " in done.stderr
    config = yaml.safe_load((finished_sweep / "wandb-sweep.yaml").read_text())
    assert config == SweepStore.open(finished_sweep).config  # the file that `wandb sweep` line would read


def test_sync_uploads_the_runs_then_makes_them_a_w_and_b_sweep(finished_sweep: Path, subprocess_env) -> None:
    store = SweepStore.open(finished_sweep)
    run_ids = [t.run_id for t in store.trials()]
    with fake_wandb_server() as (url, received):
        env = {**subprocess_env, "WANDB_BASE_URL": url, "WANDB_API_KEY": FAKE_KEY}  # WANDB_MODE stays offline
        done = localsweep(env, "sync", "g", "--root", finished_sweep.parent, "--entity", "team")
    # 1. Every run uploaded by `wandb sync` into the project and entity, as a run of no sweep.
    buckets = received.named("UpsertBucket")
    assert {b["name"] for b in buckets} == set(run_ids)
    assert {(b["project"], b["entity"], b["sweep"]) for b in buckets} == {("mnist-sweeps", "team", None)}
    # 2. Then one sweep made from the stored YAML, holding exactly those runs (`wandb sweep --prior_run`).
    (sweep,) = received.named("UpsertSweep")
    assert (sweep["projectName"], sweep["entityName"]) == ("mnist-sweeps", "team")
    assert json.loads(sweep["priorRunsFilters"]) == {"$or": [{"name": run_id} for run_id in run_ids]}
    sent = yaml.safe_load(sweep["config"])
    assert {k: sent[k] for k in store.config} == store.config
    assert sent["name"] == "g"
    # 3. The sweep is recorded, and `wandb agent` is told where to continue.
    path = f"team/mnist-sweeps/{SWEEP_NAME}"
    assert f"continue the search online with: wandb agent {path}" in done.stdout
    assert SweepStore.open(finished_sweep).wandb_sweep == {"path": path, "run_ids": run_ids}
    assert FAKE_KEY not in done.stdout + done.stderr
    again = localsweep(env, "sync", "g", "--root", finished_sweep.parent)
    assert f"was uploaded as W&B sweep {path} (3 runs)" in again.stderr


def test_a_sweep_without_an_entity_goes_to_the_keys_default_entity(finished_sweep: Path, monkeypatch) -> None:
    with fake_wandb_server() as (url, received):
        monkeypatch.setenv("WANDB_BASE_URL", url)
        monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
        path = create_sweep(plan(SweepStore.open(finished_sweep)))
    (sweep,) = received.named("UpsertSweep")
    assert sweep["entityName"] is None  # the server picks the key's default entity ...
    assert path == f"{ENTITY}/mnist-sweeps/{SWEEP_NAME}"  # ... and the path says which


def test_plan_takes_the_project_from_the_flag_the_environment_the_yaml_or_the_runs(finished_sweep, monkeypatch):
    store = SweepStore.open(finished_sweep)
    assert plan(store).project == "mnist-sweeps"
    assert plan(store, project="other").project == "other"
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    assert plan(store).project == "from-env"
    monkeypatch.delenv("WANDB_PROJECT")
    store.config.pop("project")
    assert plan(store).project == "echo-project"  # the one project the runs recorded
