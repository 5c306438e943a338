"""``localsweep sync`` makes a finished offline sweep a real W&B sweep, checked up to the network boundary.

No W&B server runs here: W&B's own code (the ``wandb sync`` CLI, ``wandb.sweep``, ``wandb.Api``) talks to a loopback
server that holds what it is sent and answers W&B's queries (tests/wandb_boundary.py), with faults on demand: an
HTTP error, or a connection accepted and never answered. What a real server does with the runs is not verified.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.__main__ import main as report_main
from localsweep.bridge.sync import plan
from localsweep.core.runlog import read_run
from localsweep.storage.store import SweepStore
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_PROGRAM
from tests.test_analysis_online import predictions_csv
from tests.wandb_boundary import ENTITY, SWEEP_NAME, FakeWandb, fake_wandb_server

FAKE_KEY = "k" * 40
RECORDED = "recorded-team"

# The sweeps are made once per module, before any test's storage backend is chosen: SQLite sweeps (sync on
# PostgreSQL, across hosts, is tests/test_localsweep_agents.py). Each test syncs its own copy of a sweep's store,
# whose trials name the same run dirs.
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]


def localsweep(env: dict[str, str], *args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "localsweep", *map(str, args)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert FAKE_KEY not in done.stdout + done.stderr
    return done


def _make_sweep(root: Path, name: str, yaml_text: str, env: dict[str, str], *options: str) -> Path:
    env = {**env, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONPATH": str(REPO_ROOT)}
    env |= {var: str(root / var.lower()) for var in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR")}
    (root / f"{name}.yaml").write_text(yaml_text)
    localsweep(env, "run", root / f"{name}.yaml", "--root", root, "--name", name, *options)
    return root / name


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished offline grid of three trials (the echo program, real wandb offline runs) whose runs recorded the
    entity they ran for (``WANDB_ENTITY``), made once."""
    yaml_text = (
        f"program: {ECHO_PROGRAM}\nmethod: grid\nproject: mnist-sweeps\nmetric: {{name: score, goal: maximize}}\n"
        "parameters:\n  x: {values: [1, 2, 3]}\n"
    )
    env = {**os.environ, "WANDB_ENTITY": RECORDED}
    return _make_sweep(tmp_path_factory.mktemp("sync"), "g", yaml_text, env)


@pytest.fixture(scope="module")
def custom_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``method: custom`` (Optuna) sweep of one trial, whose run recorded no entity, made once."""
    yaml_text = (
        f"program: {ECHO_PROGRAM}\nmethod: custom\nscheduler: {{engine: optuna}}\nproject: mnist-sweeps\n"
        "metric: {name: score, goal: maximize}\nparameters:\n  x: {values: [1, 2]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WANDB_ENTITY"}
    return _make_sweep(tmp_path_factory.mktemp("custom"), "c", yaml_text, env, "--count", "1", "--seed", "0")


def copy_of(sweep: Path, root: Path) -> Path:
    """A new sweep folder under ``root`` holding a copy of ``sweep``'s store (its trials name the same run dirs)."""
    (root / sweep.name).mkdir(parents=True)
    with sqlite3.connect(sweep / "sweep.db") as source, sqlite3.connect(root / sweep.name / "sweep.db") as copy:
        source.backup(copy)
    return root / sweep.name


def online(env: dict[str, str], url: str) -> dict[str, str]:
    """``env`` with a (fake) key and the loopback server as W&B; WANDB_MODE stays offline, as the user's would."""
    return {**env, "WANDB_BASE_URL": url, "WANDB_API_KEY": FAKE_KEY}


def uploaded(fake: FakeWandb) -> set[str]:
    return {bucket["name"] for bucket in fake.named("UpsertBucket")}


def test_offline_runs_name_no_sweep_so_the_server_will_accept_them(finished_sweep: Path) -> None:
    for trial in SweepStore.open(finished_sweep).trials():
        assert trial.run_dir is not None
        record = read_run(trial.run_dir)
        assert record.sweep_id is None  # a local sweep id would make `wandb sync` fail with 404
        assert record.project == "echo-project"  # wandb.init(project=...) is honoured, not the checkout's name
        assert record.entity == RECORDED


def test_sync_without_a_key_says_what_it_would_run_and_fails(finished_sweep, tmp_path, subprocess_env):
    sweep = copy_of(finished_sweep, tmp_path)
    done = localsweep(subprocess_env, "sync", "g", "--root", tmp_path, code=1)
    assert "no W&B API key" in done.stderr
    assert f"-m wandb sync --project mnist-sweeps --entity {RECORDED} " in done.stderr
    assert f"-m wandb sweep --project mnist-sweeps --entity {RECORDED} --name g --prior_run " in done.stderr
    config = yaml.safe_load((sweep / "wandb-sweep.yaml").read_text())
    assert config == SweepStore.open(sweep).config  # the file that `wandb sweep` line would read


def test_sync_through_the_environments_proxy_uploads_checks_each_run_then_makes_the_sweep(
    finished_sweep, tmp_path, subprocess_env
):
    sweep = copy_of(finished_sweep, tmp_path)
    store = SweepStore.open(sweep)
    run_ids = [t.run_id for t in store.trials()]
    # W&B's own clients reach the server through `requests`, which takes the proxy from the environment: the
    # server's own name need not resolve here, only the proxy's (the loopback server serves proxy requests too).
    host = "wandb.invalid"
    with fake_wandb_server() as (url, fake):
        env = {k: v for k, v in subprocess_env.items() if k.lower() != "no_proxy"}
        env = {**online(env, f"http://{host}"), "HTTP_PROXY": url}
        done = localsweep(env, "sync", "g", "--root", tmp_path)
        # 1. Every run uploaded by `wandb sync` into the project and the entity the runs recorded, as a run of no
        # sweep; and each found on the server (one runs query) before the sweep names it.
        buckets = fake.named("UpsertBucket")
        assert {b["name"] for b in buckets} == set(run_ids)
        assert {(b["project"], b["entity"], b["sweep"]) for b in buckets} == {("mnist-sweeps", RECORDED, None)}
        (check,) = [json.loads(q["filters"]) for q in fake.named("Runs")]
        assert set(check["name"]["$in"]) == set(run_ids)
        operations = [name for name, _ in fake.requests]
        assert operations.index("Runs") < operations.index("UpsertSweep")
        assert {r.name for r in fake.runs.values() if r.state == "finished"} == set(run_ids)
        # 2. Then one sweep made from the stored YAML, holding exactly those runs (`wandb sweep --prior_run`).
        (made,) = fake.named("UpsertSweep")
        assert (made["projectName"], made["entityName"]) == ("mnist-sweeps", RECORDED)
        assert json.loads(made["priorRunsFilters"]) == {"$or": [{"name": run_id} for run_id in run_ids]}
        sent = yaml.safe_load(made["config"])
        assert {k: sent[k] for k in store.config} == store.config
        assert sent["name"] == "g"
        assert fake.proxied_hosts == {host}
        # 3. The sweep is recorded, and `wandb agent` is told where to continue.
        path = f"{RECORDED}/mnist-sweeps/{SWEEP_NAME}"
        assert f"entity {RECORDED} (recorded by the runs: WANDB_ENTITY when they ran)" in done.stderr
        assert "3 of 3 run(s) uploaded from this host and found on the server" in done.stderr
        assert f"continue the search online with: wandb agent {path}" in done.stdout
        assert SweepStore.open(sweep).wandb_sweep == {"path": path, "run_ids": run_ids}
        again = localsweep(env, "sync", "g", "--root", tmp_path)
    assert f"was uploaded as W&B sweep {path} (3 runs)" in again.stderr


def test_runs_the_server_does_not_hold_after_wandb_sync_stay_to_upload_and_no_sweep_names_them(
    finished_sweep, tmp_path, subprocess_env
):
    sweep = copy_of(finished_sweep, tmp_path)
    first, *rest = [t.run_id for t in SweepStore.open(sweep).trials()]
    with fake_wandb_server() as (url, fake):
        fake.fail("UpsertBucket", 404, only={first})  # `wandb sync` logs the error, prints "done." and exits 0
        done = localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path, code=1)
        assert "2 of 3 run(s) uploaded from this host and found on the server" in done.stderr
        assert "not found on the server after `wandb sync` (`wandb sync` exited 0" in done.stderr
        assert f"so they stay to upload: {first}\n" in done.stderr
        assert "no W&B sweep was made" in done.stderr
        assert fake.named("UpsertSweep") == []
        assert SweepStore.open(sweep).uploaded() == sorted(rest)

        fake.heal()
        fake.requests.clear()
        again = localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path)
        assert uploaded(fake) == {first}  # only the one still to upload
        (made,) = fake.named("UpsertSweep")
        assert {f["name"] for f in json.loads(made["priorRunsFilters"])["$or"]} == {first, *rest}
    assert f"wandb agent {RECORDED}/mnist-sweeps/{SWEEP_NAME}" in again.stdout


def test_a_server_that_accepts_connections_and_never_answers_is_given_up_after_the_timeout(
    finished_sweep, tmp_path, subprocess_env
):
    sweep = copy_of(finished_sweep, tmp_path)
    with fake_wandb_server() as (url, fake):
        fake.fail("*", None)  # a proxy or captive portal that holds every request
        done = localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path, "--timeout", "4", code=1)
    assert f"the W&B server ({url}) did not answer within 4 s" in done.stderr
    assert "nothing was uploaded" in done.stderr
    assert SweepStore.open(sweep).uploaded() == []


def test_an_upload_that_stops_being_answered_ends_at_the_timeout_and_says_what_is_not_uploaded(
    finished_sweep, tmp_path, subprocess_env
):
    sweep = copy_of(finished_sweep, tmp_path)
    run_ids = [t.run_id for t in SweepStore.open(sweep).trials()]
    with fake_wandb_server() as (url, fake):
        fake.fail("UpsertBucket", None, only=set(run_ids[1:]))  # the first run goes up, then the server goes quiet
        done = localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path, "--timeout", "20", code=1)
        assert fake.named("UpsertSweep") == []
    assert "`wandb sync` was stopped after " in done.stderr
    assert "the rest of --timeout 20 s kept to check what arrived" in done.stderr
    assert set(SweepStore.open(sweep).uploaded()) <= {run_ids[0]}  # what arrived was checked; the rest stays
    stay = done.stderr.split("so they stay to upload: ")[1].splitlines()[0].split()
    assert set(run_ids[1:]) <= set(stay)


def test_runs_recorded_under_another_host_name_are_uploaded_by_a_host_that_can_read_them(
    finished_sweep, tmp_path, subprocess_env
):
    # `docker compose run` gives each container a new host name: the runs were recorded by another "host", but
    # their folders are here (the same volume), so this host uploads them.
    copy_of(finished_sweep, tmp_path)
    with fake_wandb_server() as (url, fake):
        env = {**online(subprocess_env, url), "LOCALSWEEP_HOST": "container-b"}
        done = localsweep(env, "sync", "g", "--root", tmp_path)
        assert len(uploaded(fake)) == 3
    assert f"wandb agent {RECORDED}/mnist-sweeps/{SWEEP_NAME}" in done.stdout


def test_sync_on_a_host_that_can_read_none_of_the_runs_fails_and_says_where_they_are(
    finished_sweep, tmp_path, subprocess_env
):
    sweep = copy_of(finished_sweep, tmp_path)
    with sqlite3.connect(sweep / "sweep.db") as db:  # the runs lie in another host's folder
        db.execute("UPDATE trials SET run_dir = '/elsewhere' || run_dir, host = 'container-a'")
    done = localsweep(online(subprocess_env, "http://127.0.0.1:9"), "sync", "g", "--root", tmp_path, code=1)
    assert "none of the 3 runs still to upload is readable on this host" in done.stderr
    assert "container-a (3)" in done.stderr
    assert f"/elsewhere{finished_sweep}" in done.stderr


def test_a_custom_sweep_uploads_its_runs_and_says_why_no_w_and_b_sweep_is_made(custom_sweep, tmp_path, subprocess_env):
    copy_of(custom_sweep, tmp_path)
    with fake_wandb_server() as (url, fake):
        done = localsweep(online(subprocess_env, url), "sync", "c", "--root", tmp_path)
        assert {(b["entity"], b["project"]) for b in fake.named("UpsertBucket")} == {(ENTITY, "mnist-sweeps")}
        assert fake.named("UpsertSweep") == []
    assert f"entity {ENTITY} (the API key's default)" in done.stderr
    assert "1 of 1 run(s) uploaded from this host and found on the server" in done.stderr
    assert "no W&B sweep is made: `method: custom`" in done.stdout
    assert "wandb agent" not in done.stdout


def test_an_entity_given_to_sync_that_differs_from_the_one_the_runs_recorded_is_refused(
    finished_sweep, tmp_path, subprocess_env
):
    copy_of(finished_sweep, tmp_path)
    with fake_wandb_server() as (url, fake):
        done = localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path, "--entity", "other", code=2)
        assert fake.named("UpsertBucket") == []
    assert f"the runs were recorded for entity {RECORDED!r}" in done.stderr
    assert "but sync was given entity 'other' (--entity)" in done.stderr


def test_the_online_report_right_after_sync_finds_the_runs_sync_attached(
    finished_sweep, tmp_path, subprocess_env, monkeypatch, capsys
):
    sweep = copy_of(finished_sweep, tmp_path)
    store = SweepStore.open(sweep)
    best, run_ids = store.best_trial(), [t.run_id for t in store.trials()]
    assert best is not None
    path = f"{RECORDED}/mnist-sweeps/{SWEEP_NAME}"
    with fake_wandb_server() as (url, fake):
        localsweep(online(subprocess_env, url), "sync", "g", "--root", tmp_path)
        # `wandb sync` sends artifact files to upload URLs this server does not serve: the best run's predictions
        # artifact is placed on the server by the test.
        server_run = fake.run(RECORDED, "mnist-sweeps", best.run_id)
        assert server_run is not None
        assert server_run.summary["score"] == best.metric_value  # what `wandb sync` streamed
        files = {"predictions.csv": predictions_csv()}
        fake.add_artifact(server_run, f"predictions-{best.run_id}", "predictions", files, {"predictions_schema": 1})
        for name, value in {"WANDB_MODE": "online", "WANDB_BASE_URL": url, "WANDB_API_KEY": FAKE_KEY}.items():
            monkeypatch.setenv(name, value)
        out = ["--sweeps-root", str(tmp_path), "--out", str(tmp_path / "report"), "--resamples", "0"]
        assert report_main(["report", "--sweep", path, *out]) == 0, capsys.readouterr().err
        # W&B lists none of the runs with the sweep (they are its prior runs): the report asked for them by id.
        lookups = [json.loads(q["filters"]) for q in fake.named("Runs")]
        assert {"$and": [{"sweep": SWEEP_NAME}]} in lookups
        assert any(set(f.get("name", {}).get("$in", [])) == set(run_ids) for f in lookups)
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    assert summary["run"]["run_id"] == best.run_id
    assert sorted(t["run_id"] for t in summary["sweep"]["trials"]) == sorted(run_ids)
    assert summary["sweep"]["rank"] == 1


def test_plan_takes_the_project_from_the_flag_the_environment_the_yaml_or_the_runs(finished_sweep, monkeypatch):
    store = SweepStore.open(finished_sweep)
    assert plan(store).project == "mnist-sweeps"
    assert plan(store, project="other").project == "other"
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    assert plan(store).project == "from-env"
    monkeypatch.delenv("WANDB_PROJECT")
    store.config.pop("project")
    assert plan(store).project == "echo-project"  # the one project the runs recorded
