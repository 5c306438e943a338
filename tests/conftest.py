"""Shared fixtures: every test runs wandb offline with all of its directories under tmp_path; what is expensive to
make (the tiny trained sweep and its report, a tiny trained run, the Docker image) is made once per test run and
shared by every test (and every pytest-xdist worker) that reads it.

The order of the tests: the slow ones first, so that the longest start early; then the ``docker`` ones, by when the
image (built in the background from the start of the run) is there; the many fast ones last, to fill the gaps
that the others leave (pytest-xdist hands each worker its next test when it is done: `make test`). Within the
slow and the ``docker`` tiers the longest tests of a run (:data:`LONGEST`) go first: one of them started last
keeps one worker busy for minutes after the others are done.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from localsweep.core.trial import Trial
from localsweep.storage.store import STORAGE_VAR, SweepStore
from tests.browser import browser_page, chromium  # noqa: F401 (fixtures of the browser tests)
from tests.postgres_server import PostgresUnavailableError, Server, postgres_server
from tests.shared import WORKER_VAR, built_once, run_root

if TYPE_CHECKING:
    from tests.container import BuiltImage

REPO_ROOT = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run, with no example database: a CI run is reproducible, and a
# failure found once is found again. `--hypothesis-profile=explore` (or `--hypothesis-seed`) draws new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", database=None)
settings.load_profile("ci")

# Imported by a pooled worker only: importing it writes beside a sweep and takes seconds (--doctest-modules would).
collect_ignore = ["localsweep_programs/slow_import.py"]

_WANDB_DIR_VARS = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR")


def quiet_wandb_env(root: Path) -> dict[str, str]:
    """The environment that keeps wandb offline and quiet with every directory it writes under ``root`` (made
    here); no key, no network, nothing written to $HOME."""
    env = {var: str(root / var.lower()) for var in _WANDB_DIR_VARS}
    for path in env.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CONSOLE="off",
        WANDB_DISABLE_GIT="true",
        WANDB__DISABLE_STATS="true",
        WANDB__DISABLE_META="true",
        WANDB__SAVE_REQUIREMENTS="false",
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_ENABLE_ONEDNN_OPTS="0",
    )
    return env


UNSET_WANDB_VARS = ("WANDB_API_KEY", "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID", "WANDB_PROJECT")


@pytest.fixture(autouse=True)
def wandb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point wandb at tmp_path, offline and quiet; no key, no network, nothing written to $HOME."""
    root = tmp_path / "wandb-home"
    for var, value in quiet_wandb_env(root).items():
        monkeypatch.setenv(var, value)
    for var in UNSET_WANDB_VARS:
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
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="where the sweeps of the tests are recorded: SQLite files (default), a real PostgreSQL server "
        "started for the session (each test gets its own database, as $LOCALSWEEP_STORAGE), or both: the tests "
        "marked `backend` run once on each (ids ending in [sqlite] and [postgresql]), the others on SQLite",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One run for both backends: the backend's tests share the workers with the rest instead of a second pass.
    if (
        metafunc.config.getoption("--storage-backend") == "both"
        and metafunc.definition.get_closest_marker("backend") is not None
        and metafunc.definition.get_closest_marker("sqlite_only") is None
    ):
        metafunc.parametrize("storage_backend", ["sqlite", "postgresql"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--storage-backend") == "postgresql":
        skip = pytest.mark.skip(reason="works on the SQLite file itself")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(skip)
    items.sort(key=_tier)  # stable: within a tier the tests keep their files' order


LONGEST = (
    "tests/test_container_sweep.py::test_docker_stop_at_ten_moments",
    "tests/test_localsweep_stops.py::test_ctrl_c_and_sigterm_at_seeded_moments",
    "tests/test_lock.py::test_conventional_pip_install",
    "tests/test_reliability_faults.py::test_controller_killed_at_ten_random_moments",
)
"""The tests that take longest in a run (1.5-2.5 minutes each on two cores; BENCHMARKS.md, the test suite)."""


def _tier(item: pytest.Item) -> tuple[int, bool]:
    longest = item.nodeid.startswith(LONGEST)
    if "docker" in item.keywords:
        return 1, not longest
    return (0, not longest) if "slow" in item.keywords else (2, True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's last word (under pytest-xdist: the controller's, once every worker is done): stop the Docker
    engine if the run's build started one."""
    if os.environ.get(WORKER_VAR):
        return
    from tests.container import stop_engine

    factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    stop_engine(run_root(factory.getbasetemp()))


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
    """With ``--storage-backend postgresql`` (or ``both``, for a test marked ``backend``), every test's sweeps are
    recorded in a database of its own."""
    if getattr(request, "param", request.config.getoption("--storage-backend")) != "postgresql":
        monkeypatch.delenv(STORAGE_VAR, raising=False)
        return None
    url = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv(STORAGE_VAR, url)
    return url


def recorded(directory: Path) -> bool:
    """Whether the sweep whose folder is ``directory`` exists, wherever it is recorded (it may have no trial yet:
    a stop can land between the store's creation and the first suggestion)."""
    try:
        SweepStore.open(directory).close()
    except FileNotFoundError:
        return False
    return True


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


@pytest.fixture(scope="session", autouse=True)
def docker_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """At the first test of each worker: when this worker has tests marked ``docker``, start the run's image build
    in the background (the first worker to get here does; see tests/container.py)."""
    if any("docker" in item.keywords for item in request.session.items):
        from tests.container import start_build

        start_build(run_root(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session")
def docker_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """The image, built once per test run on a real Docker engine (tests marked ``docker``; see tests/container.py)."""
    from tests.container import wait_for_build

    return wait_for_build(run_root(tmp_path_factory.getbasetemp()))


# ---- once per run: the tiny trained sweep and its report (the main job), a tiny trained run ----

TINY_GRID = REPO_ROOT / "tests" / "data" / "tiny_grid.yaml"


@dataclass(frozen=True)
class MainJob:
    """``make run`` of tests/data/tiny_grid.yaml, as the README runs the main job: a pooled offline sweep of the
    real trainer (one epoch on 300 MNIST rows per grid point), then its best run's report. Read it, never write:
    every test of the run shares it."""

    name: str
    sweeps_root: Path
    report: Path  # the folder holding report.html, report.md and report.json
    stdout: str

    @property
    def sweep(self) -> Path:
        return self.sweeps_root / self.name


@dataclass(frozen=True)
class TrainedRun:
    """One ``python -m trainer --epochs=1 --train_size=300 --batch_size=32 --units=8 --save_model=False`` run,
    offline. Read it, never write."""

    run_dir: Path
    stdout: str


def _built_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*UNSET_WANDB_VARS, STORAGE_VAR)}  # SQLite, always
    env.update(quiet_wandb_env(folder / "wandb-home"), PYTHONPATH=str(REPO_ROOT))
    return env


def _checked(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    """The main job, run once per test run (``MainJob``)."""
    name = "grid"

    def build(folder: Path) -> None:
        stdout = _checked(
            ["make", "--no-print-directory", "run", f"SWEEP={TINY_GRID.relative_to(REPO_ROOT)}", "SWEEP_ARGS=--seed 0",
             f"NAME={name}", f"SWEEPS_ROOT={folder / 'sweeps'}", f"REPORTS={folder / 'reports'}"],
            _built_env(folder),
            REPO_ROOT,
        )  # fmt: skip
        (folder / "stdout").write_text(stdout)

    folder = built_once(tmp_path_factory, "main-job", build)
    return MainJob(name, folder / "sweeps", folder / "reports" / name, (folder / "stdout").read_text())


TRAINED_RUN_ARGS = ("--epochs=1", "--train_size=300", "--batch_size=32", "--units=8", "--save_model=False")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """A tiny real training run, made once per test run (``TrainedRun``)."""

    def build(folder: Path) -> None:
        stdout = _checked([sys.executable, "-m", "trainer", *TRAINED_RUN_ARGS], _built_env(folder), folder)
        (folder / "stdout").write_text(stdout)

    folder = built_once(tmp_path_factory, "trained-run", build)
    stdout = (folder / "stdout").read_text()
    found = next(line for line in stdout.splitlines() if line.startswith("run dir:"))
    return TrainedRun(Path(found.split(":", 1)[1].strip()), stdout)
