"""docker_entrypoint.sh, run directly (no Docker engine needed) with fake commands in place of the real ones.

The fake records its argv, its pid, whether it got a W&B key (as a SHA-256, never the key) and which signal
reached it, then waits to be signalled; a fake `wandb` on PATH stands in for `wandb agent`, a fake `python` for
`python -m trainer` and the other W&B programs, and `fake` for any other command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ENTRYPOINT = REPO_ROOT / "docker_entrypoint.sh"
SECRET = "0123456789abcdef0123456789abcdef01234567"  # the shape of a W&B key; a test value, not a key
EX_USAGE = 64
TRAIN = ("python", "-m", "trainer", "--epochs=1")

FAKE = """\
import hashlib, json, os, signal, subprocess, sys, time

out = os.environ["FAKE_OUT"]
me = os.getpid()


def record(name, value):
    tmp = f"{out}/{me}.{name}.tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, f"{out}/{me}.{name}")


def on_signal(signum, frame):
    record("signal", signal.Signals(signum).name)
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
key = os.environ.get("WANDB_API_KEY")
children = []
if os.environ.get("FAKE_SPAWN") == "1":  # like `wandb agent`: the run is a child in the same process group
    child_env = dict(os.environ, FAKE_SPAWN="0")
    children.append(subprocess.Popen([sys.executable, __file__, "run"], env=child_env))
record("report", {
    "argv": sys.argv[1:],
    "pid": me,
    "key_sha256": hashlib.sha256(key.encode()).hexdigest() if key else None,
    "key_file_var": os.environ.get("WANDB_API_KEY_FILE"),
    "children": [c.pid for c in children],
})
if os.environ.get("FAKE_WAIT") == "1":
    time.sleep(30)
    sys.exit(3)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A folder with the fake program as `fake`, `wandb` and `python`; its records go to tmp_path/out."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "out").mkdir()
    for name in ("fake", "wandb", "python"):
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\n{FAKE}")
        script.chmod(0o755)
    return tmp_path


def child_env(fake: Path, **overrides: str | None) -> dict[str, str]:
    """The container's environment as a user would set it: nothing W&B-related unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_MODE", "WANDB_API_KEY", "WANDB_SWEEP"))}
    env["PATH"] = f"{fake / 'bin'}{os.pathsep}{env['PATH']}"
    env["FAKE_OUT"] = str(fake / "out")
    for key, value in overrides.items():
        if value is not None:
            env[key] = value
    return env


def run(fake: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *args], env=child_env(fake, **env), capture_output=True, text=True, timeout=30
    )


def reports(fake: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((fake / "out").glob("*.report"))]


def wait_for(path: Path) -> object:
    deadline = time.monotonic() + 20
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)
    return json.loads(path.read_text())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_entrypoint_key_from_env_reaches_the_command_by_environment_only(fake: Path) -> None:
    done = run(fake, "fake", "run", WANDB_API_KEY=SECRET)
    assert done.returncode == 0, done.stderr
    (report,) = reports(fake)
    assert report["argv"] == ["run"]
    assert report["key_sha256"] == sha256(SECRET)
    assert SECRET not in done.stdout + done.stderr


def test_entrypoint_key_from_file_is_exported_and_the_file_variable_dropped(fake: Path) -> None:
    key_file = fake / "wandb_api_key"
    key_file.write_text(SECRET + "\n")  # a secret file usually ends with a newline
    done = run(fake, "fake", WANDB_API_KEY_FILE=str(key_file))
    assert done.returncode == 0, done.stderr
    (report,) = reports(fake)
    assert report["key_sha256"] == sha256(SECRET)
    assert report["key_file_var"] is None
    assert SECRET not in done.stdout + done.stderr


def test_entrypoint_key_is_in_the_environment_not_in_argv_of_the_running_command(fake: Path) -> None:
    key_file = fake / "wandb_api_key"
    key_file.write_text(SECRET)
    env = child_env(fake, WANDB_API_KEY_FILE=str(key_file), WANDB_SWEEP_ID="abcd1234", FAKE_WAIT="1")
    proc = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        report = wait_for(fake / "out" / f"{proc.pid}.report")
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        proc.kill()
        output, _ = proc.communicate(timeout=10)
    assert isinstance(report, dict)
    assert report["argv"] == ["agent", "abcd1234"]
    assert not any(SECRET.encode() in arg for arg in cmdline)
    assert f"WANDB_API_KEY={SECRET}".encode() in environ
    assert SECRET.encode() not in output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (TRAIN, {}, "no W&B API key: set WANDB_API_KEY .* or WANDB_API_KEY_FILE .* WANDB_MODE=offline"),
        (TRAIN, {"WANDB_MODE": "online"}, "no W&B API key"),
        (TRAIN, {"WANDB_API_KEY": ""}, "no W&B API key"),
        (("python", "trainer/__main__.py"), {}, "no W&B API key"),  # the sweeps' `program`
        (("python", "-W", "ignore", "-m", "localsweep", "run", "sweeps/grid.yaml"), {}, "no W&B API key"),
        (("python", "-u", "-m", "analysis", "report"), {}, "no W&B API key"),
        (("python", "-m", "trainer.train"), {}, "no W&B API key"),
        (("wandb", "offline"), {}, "no W&B API key"),
        (("abcd1234",), {"WANDB_MODE": "offline"}, "'wandb agent abcd1234' talks to the W&B server .* localsweep"),
        (("wandb", "sync", "wandb"), {"WANDB_MODE": "offline"}, "'wandb sync wandb' talks to the W&B server"),
        ((), {}, "no sweep id: .* set WANDB_SWEEP_ID; .* wandb sweep sweeps/"),
        (("agent",), {"WANDB_API_KEY": SECRET}, "no sweep id: .* set WANDB_SWEEP_ID; .* wandb sweep sweeps/"),
        (("fake",), {"WANDB_API_KEY": SECRET, "WANDB_API_KEY_FILE": "/x"}, "set only one of them"),
        (("id",), {"WANDB_API_KEY": SECRET, "WANDB_API_KEY_FILE": "/x"}, "set only one of them"),
        (TRAIN, {"WANDB_API_KEY_FILE": "/nonexistent/key"}, "WANDB_API_KEY_FILE=/nonexistent/key is not a file"),
        (TRAIN, {"WANDB_MODE": "offline", "TMPDIR": "/nonexistent"}, "/nonexistent is not writable .* --tmpfs /tmp"),
    ],
)
def test_entrypoint_refuses_with_what_to_set(
    fake: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = run(fake, *args, **env)
    assert done.returncode == EX_USAGE
    assert done.stdout == ""
    assert done.stderr.startswith("docker_entrypoint.sh: ")
    assert re.search(message, done.stderr), done.stderr
    assert SECRET not in done.stderr
    assert reports(fake) == []  # nothing ran


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "is empty"), (f"{SECRET}\nsecond line\n", "alone on one line"), (f"{SECRET} x", "alone on one line")],
)
def test_entrypoint_rejects_a_bad_key_file_without_printing_it(fake: Path, content: str, message: str) -> None:
    key_file = fake / "wandb_api_key"
    key_file.write_text(content)
    done = run(fake, "fake", WANDB_API_KEY_FILE=str(key_file))
    assert done.returncode == EX_USAGE
    assert message in done.stderr
    assert SECRET not in done.stderr
    assert reports(fake) == []


@pytest.mark.parametrize("mode", ["offline", "disabled"])
@pytest.mark.parametrize("args", [TRAIN, ("wandb", "offline")])
def test_entrypoint_runs_without_a_key_when_mode_is_explicitly_local(
    fake: Path, mode: str, args: tuple[str, ...]
) -> None:
    done = run(fake, *args, WANDB_MODE=mode)
    assert done.returncode == 0, done.stderr
    (report,) = reports(fake)
    assert report["argv"] == list(args[1:])
    assert report["key_sha256"] is None


@pytest.mark.parametrize(
    ("args", "argv"),
    [
        (("fake", "x"), ["x"]),  # id, bash, ls ...: a look inside the image
        (("python", "-V"), ["-V"]),
        (("python", "-c", "print(1)"), ["-c", "print(1)"]),
        ((*TRAIN, "--help"), ["-m", "trainer", "--epochs=1", "--help"]),
        (("python", "-m", "localsweep", "run", "-h"), ["-m", "localsweep", "run", "-h"]),
        (("wandb", "--version"), ["--version"]),
        (("wandb", "agent", "--help"), ["agent", "--help"]),
        (("--help",), ["agent", "--help"]),  # the image's default command, asked for its usage
    ],
)
def test_entrypoint_runs_what_starts_no_wandb_run_without_a_key_or_mode(
    fake: Path, args: tuple[str, ...], argv: list[str]
) -> None:
    done = run(fake, *args)
    assert done.returncode == 0, done.stderr
    (report,) = reports(fake)
    assert report["argv"] == argv
    assert report["key_sha256"] is None


def test_entrypoint_names_the_owner_mode_and_fix_of_a_key_file_it_cannot_read(fake: Path) -> None:
    # A secret mounted 0400 for another uid, as Docker Compose and Kubernetes can mount it. The test runs the
    # entrypoint as uid 12345 (setpriv), so the file needs a folder that uid can enter (pytest's tmp_path is 0700).
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and util-linux setpriv to run the entrypoint as another uid")
    folder = Path(tempfile.mkdtemp(prefix="secrets-"))
    try:
        folder.chmod(0o755)
        key_file = folder / "wandb_api_key"
        key_file.write_text(SECRET)
        key_file.chmod(0o400)
        argv = [setpriv, "--reuid=12345", "--regid=12345", "--clear-groups", str(ENTRYPOINT), *TRAIN]
        env = child_env(fake, WANDB_API_KEY_FILE=str(key_file))
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(folder)
    assert done.returncode == EX_USAGE
    assert f"WANDB_API_KEY_FILE={key_file} (owner uid 0, mode 400) is not readable" in done.stderr
    assert "(uid 12345, gid 12345). Make it readable to uid 12345: on the host, chown 12345 the file" in done.stderr
    assert "--user 0" in done.stderr
    assert SECRET not in done.stderr


@pytest.mark.parametrize(
    ("args", "sweep_env", "wandb_argv"),
    [
        ((), "abcd1234", ["agent", "abcd1234"]),
        (("agent",), "me/proj/abcd1234", ["agent", "me/proj/abcd1234"]),
        (("me/proj/abcd1234",), None, ["agent", "me/proj/abcd1234"]),
        (("abcd1234", "--count", "2"), None, ["agent", "abcd1234", "--count", "2"]),
        (("agent", "--count", "2", "abcd1234"), None, ["agent", "--count", "2", "abcd1234"]),
        (("--count", "2"), "abcd1234", ["agent", "--count", "2", "abcd1234"]),
        (("wandb", "agent", "abcd1234"), None, ["agent", "abcd1234"]),
    ],
)
def test_entrypoint_resolves_the_agent_command(
    fake: Path, args: tuple[str, ...], sweep_env: str | None, wandb_argv: list[str]
) -> None:
    done = run(fake, *args, WANDB_API_KEY=SECRET, WANDB_SWEEP_ID=sweep_env)
    assert done.returncode == 0, done.stderr
    (report,) = reports(fake)
    assert report["argv"] == wandb_argv


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_entrypoint_execs_so_signals_reach_the_command(fake: Path, signum: int, code: int) -> None:
    env = child_env(fake, WANDB_MODE="offline", FAKE_WAIT="1")
    proc = subprocess.Popen([str(ENTRYPOINT), "fake"], env=env)
    report = wait_for(fake / "out" / f"{proc.pid}.report")  # same pid: the entrypoint became the command
    assert isinstance(report, dict)
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == code
    assert wait_for(fake / "out" / f"{proc.pid}.signal") == signal.Signals(signum).name


def image_entrypoint() -> list[str]:
    """The Dockerfile's ENTRYPOINT, with the image's paths replaced by this checkout's."""
    line = next(x for x in (REPO_ROOT / "Dockerfile").read_text().splitlines() if x.startswith("ENTRYPOINT "))
    argv: list[str] = json.loads(line.removeprefix("ENTRYPOINT "))
    init = shutil.which(argv[0], path=str(Path(sys.executable).parent))
    if init is None:
        pytest.skip(f"{argv[0]} (PyPI dumb-init, PID 1 in the image) is not installed in this venv")
    return [init, *argv[1:-1], str(ENTRYPOINT)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_image_init_stops_the_agent_and_its_run_with_sigint(fake: Path, signum: int) -> None:
    # docker stop sends SIGTERM to PID 1; `wandb agent` 0.23.1 only handles SIGINT (then waits for its run).
    env = child_env(fake, WANDB_API_KEY=SECRET, WANDB_SWEEP_ID="abcd1234", FAKE_WAIT="1", FAKE_SPAWN="1")
    proc = subprocess.Popen(image_entrypoint(), env=env)
    deadline = time.monotonic() + 20
    while not (agent := reports(fake)) or not agent[0]["children"] or len(reports(fake)) < 2:
        assert time.monotonic() < deadline, "the fake agent and its run never started"
        time.sleep(0.02)
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == 128 + signal.SIGINT
    pids = [r["pid"] for r in reports(fake)]
    assert [wait_for(fake / "out" / f"{pid}.signal") for pid in pids] == ["SIGINT", "SIGINT"]
