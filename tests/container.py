"""The image on a real Docker engine, for the tests marked ``docker``: the run's build and small helpers.

``scripts/docker-engine`` starts an engine when none answers (and the run stops it again at the end), makes
the base image available and builds the image from a copy of this checkout into which a ``.env`` holding a
unique fake W&B key is planted, as a user's checkout would hold their real one: the image must not contain it.
The build is started once per test run, in the background, as soon as a worker finds docker tests among its
tests; the tests wait for it. Containers, volumes and Compose projects get unique names, so tests on several
pytest-xdist workers share the one engine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.shared import locked

ENGINE_SCRIPT = REPO_ROOT / "scripts" / "docker-engine"
IMAGE = "mnist-wandb-sweeps:cpu"
IMAGE_UID = 10001  # the Dockerfile's USER
OTHER_UID = 12345  # a calling user who is neither root (the tests' own user here) nor the image's
TRAIN = ("python", "-m", "trainer", "--epochs=1", "--train_size=300")
EX_UNAVAILABLE = 69  # scripts/docker-engine: no engine can be had here


@dataclass(frozen=True)
class BuiltImage:
    """The image the session built, and the fake key planted in its build context."""

    tag: str
    key: str
    context: Path


def docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` with its output captured; a failure shows docker's own message."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def engine_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENGINE_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **(env or {})},
        check=False,
    )


def copy_checkout(dest: Path) -> Path:
    """The files of this checkout a build could see (tracked and untracked, not git-ignored), copied to dest."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build(context: Path, tag: str) -> None:
    """Build ``tag`` from ``context`` with scripts/docker-engine on the engine the session has."""
    done = engine_script("build", env={"CONTEXT": str(context), "IMAGE": tag})
    assert done.returncode == 0, f"scripts/docker-engine build failed:\n{done.stderr[-6000:]}"


BUILD_TIMEOUT_S = 1800
_BUILDS: list[subprocess.Popen[bytes]] = []


def start_build(run_dir: Path) -> None:
    """Start ``scripts/docker-engine up`` in the background, once per test run (the first caller; the others
    return at once). ``up`` starts an engine if none answers (and prints its PID: ``stop_engine`` stops it at the
    end of the run), gets the base image, and builds the image from a copy of this checkout holding a ``.env``
    with a fake key. A cold build takes minutes: started when the run begins, it overlaps the other tests."""
    folder = run_dir / "docker"
    with locked(run_dir / "docker.lock"):
        if folder.exists():
            return
        folder.mkdir()
        key = secrets.token_hex(20)
        context = copy_checkout(folder / "context")
        (context / ".env").write_text(f"WANDB_API_KEY={key}\nWANDB_SWEEP_ID=\n")
        (folder / "key").write_text(key)
        # The exit code is written last, by rename: whoever sees the file sees the whole result.
        script = '"$0" up >"$1/up.out" 2>"$1/up.err"; echo $? >"$1/rc.tmp"; mv "$1/rc.tmp" "$1/rc"'
        _BUILDS.append(
            subprocess.Popen(  # kept: it outlives this call, and may outlive this worker
                ["bash", "-c", script, str(ENGINE_SCRIPT), str(folder)],
                env={**os.environ, "CONTEXT": str(context), "IMAGE": IMAGE},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )


def _build_result(folder: Path) -> int:
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while not (folder / "rc").exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"scripts/docker-engine up did not end within {BUILD_TIMEOUT_S} s: {folder}")
        time.sleep(1)
    return int((folder / "rc").read_text())


def wait_for_build(run_dir: Path) -> BuiltImage:
    """The image the run's background build made (starting that build if nobody has), once it is there."""
    start_build(run_dir)
    folder = run_dir / "docker"
    code = _build_result(folder)
    stderr = (folder / "up.err").read_text()
    if code == EX_UNAVAILABLE:
        reason = f"no Docker engine could be had: {stderr.strip().splitlines()[-1]}"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI sets one up: never let it pass by skipping
        pytest.skip(reason)
    assert code == 0, f"scripts/docker-engine up failed:\n{stderr[-6000:]}"
    return BuiltImage(IMAGE, (folder / "key").read_text(), folder / "context")


def stop_engine(run_dir: Path) -> None:
    """At the end of the run: stop the engine if this run's ``up`` started one (after waiting for a build that is
    still going, so that nothing is left running)."""
    folder = run_dir / "docker"
    if not folder.exists():
        return
    _build_result(folder)
    if (folder / "up.out").read_text().strip():  # the PID of the dockerd that `up` started, else nothing
        stopped = engine_script("stop")
        assert stopped.returncode == 0, stopped.stderr


def run(
    image: str, *command: str, options: tuple[str, ...] = (), timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``docker run --rm --network none OPTIONS IMAGE COMMAND``: no network, as offline use needs none."""
    return docker("run", "--rm", "--network", "none", *options, image, *command, timeout=timeout, check=False)


class Volumes:
    """Named volumes made for one test, removed after it."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self) -> str:
        name = f"mws-test-{uuid.uuid4().hex[:10]}"
        docker("volume", "create", name)
        self.names.append(name)
        return name

    def copy_out(self, name: str, dest: Path, image: str) -> Path:
        """The volume's files, copied to dest through a container that is created, never started."""
        container = docker("create", "-v", f"{name}:/volume", image).stdout.strip()
        try:
            docker("cp", f"{container}:/volume/.", str(dest))
        finally:
            docker("rm", container)
        return dest

    def remove(self) -> None:
        for name in self.names:
            docker("volume", "rm", "--force", name, check=False)


def owned_folder(path: Path, uid: int, mode: int = 0o755) -> Path:
    """A folder owned by uid, for a bind mount a container user of that uid writes into."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, uid)
    path.chmod(mode)
    return path


class ArgvSampler:
    """Samples ``docker top CONTAINER -eo pid,args`` every 0.1 s until stopped: the argv of every process in it."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.samples: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.1):
            top = docker("top", self.container, "-eo", "pid,args", check=False)
            if top.returncode == 0:
                self.samples.append(top.stdout)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
