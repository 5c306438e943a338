"""Shared fixtures: every test runs wandb offline with all of its directories under tmp_path."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from localsweep.core.trial import Trial
from localsweep.storage.store import STORAGE_VAR, SweepStore
from tests.postgres_server import PostgresUnavailableError, Server, postgres_server

if TYPE_CHECKING:
    from tests.container import BuiltImage

REPO_ROOT = Path(__file__).resolve().parents[1]

# Imported by a pooled worker only: importing it writes beside a sweep and takes seconds (--doctest-modules would).
collect_ignore = ["localsweep_programs/slow_import.py"]

_WANDB_DIR_VARS = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR")


@pytest.fixture(autouse=True)
def wandb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point wandb at tmp_path, offline and quiet; no key, no network, nothing written to $HOME."""
    root = tmp_path / "wandb-home"
    for var in _WANDB_DIR_VARS:
        path = root / var.lower()
        path.mkdir(parents=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB__DISABLE_STATS", "true")
    monkeypatch.setenv("WANDB__DISABLE_META", "true")
    monkeypatch.setenv("WANDB__SAVE_REQUIREMENTS", "false")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    for var in ("WANDB_API_KEY", "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID", "WANDB_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    _teardown_wandb()
    yield root
    _teardown_wandb()


def _teardown_wandb() -> None:
    # wandb keeps one process-wide setup (and its settings, WANDB_DIR included) until teardown: a test that ran
    # wandb in-process must not hand its directories to the next one.
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--storage-backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the sweeps of the tests are recorded: SQLite files (default) or a real PostgreSQL server "
        "started for the session (each test gets its own database, as $LOCALSWEEP_STORAGE)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--storage-backend") == "postgresql":
        skip = pytest.mark.skip(reason="works on the SQLite file itself")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A real PostgreSQL server for the whole session (skips the test where none can be started)."""
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailableError as err:
        pytest.skip(str(err))


@pytest.fixture
def postgres_url(postgres: Server) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture(autouse=True)
def storage_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """With ``--storage-backend postgresql``, every test's sweeps are recorded in a database of its own."""
    if request.config.getoption("--storage-backend") != "postgresql":
        monkeypatch.delenv(STORAGE_VAR, raising=False)
        return None
    url = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv(STORAGE_VAR, url)
    return url


def stored_trials(directory: Path) -> list[Trial]:
    """The trials of the sweep whose folder is ``directory``, wherever it is recorded; [] before it exists."""
    try:
        return SweepStore.open(directory).trials()
    except FileNotFoundError:
        return []


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for a child process started by a test (the autouse fixture has already set it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture(scope="session")
def docker_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    """The image, built once per session on a real Docker engine (tests marked ``docker``; see tests/container.py)."""
    from tests.container import engine_session

    with engine_session(tmp_path_factory.mktemp("docker")) as image:
        yield image
