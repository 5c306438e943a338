"""WANDB_API_KEY never reaches a file the project writes, its output, or any process's command line.

A real offline sweep of the real trainer (pooled and command mode, 1 epoch on 300 MNIST rows) and the report
run with a unique fake key in the environment; then every file under the sweep root (store, wandb run dirs,
trial logs, live history), the reports, wandb's cache/data/config dirs and TMPDIR is searched for the key, raw
and base64-encoded at any alignment, and so is everything printed. While they run, every process's
``/proc/<pid>/cmdline`` is sampled for it.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SWEEP = "tests/data/tiny_grid.yaml"


def encodings(key: bytes) -> list[bytes]:
    """The key raw, and the part of its base64 that does not depend on the bytes around it, at each offset."""
    found = [key]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + key)
        start, end = 4 * -(-shift // 3), 4 * ((shift + len(key)) // 3)
        found += [encoded[start:end], encoded[start:end].replace(b"+", b"-").replace(b"/", b"_")]
    return found


def test_encodings_find_the_key_inside_basic_auth():
    key = b"0123456789abcdef0123456789abcdef01234567"
    header = base64.b64encode(b"api:" + key)
    assert any(pattern in header for pattern in encodings(key)[1:])


class ArgvWatch:
    """Samples every process's command line in a thread until stopped; ``seen`` holds the ones with the key."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.seen: list[str] = []
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = cmdline.read_bytes()
                except OSError:
                    continue
                if self.key in argv:
                    self.seen.append(argv.decode(errors="replace"))
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


@pytest.mark.slow
def test_api_key_is_in_no_file_output_or_argv_of_an_offline_sweep_and_report(tmp_path, subprocess_env, wandb_env):
    key = secrets.token_hex(20)
    env = {k: v for k, v in subprocess_env.items() if not k.startswith(("WANDB__DISABLE", "WANDB_DISABLE"))}
    env.update(WANDB_API_KEY=key, WANDB_MODE="offline", TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root, reports = tmp_path / "sweeps", tmp_path / "reports"
    localsweep = [sys.executable, "-m", "localsweep", "run", SWEEP, "--root", str(root)]
    commands = [
        [*localsweep, "--name", "pooled", "--count", "1", "--function", "trainer.train:agent_function"],
        [*localsweep, "--name", "command", "--count", "1"],
        [
            sys.executable,
            "-m",
            "analysis",
            "report",
            "--sweep",
            "pooled",
            "--sweeps-root",
            str(root),
            "--out",
            str(reports),
        ],
    ]
    watch = ArgvWatch(key.encode())
    output = b""
    try:
        for command in commands:
            done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, timeout=400, check=False)
            output += done.stdout + done.stderr
            assert done.returncode == 0, done.stderr.decode()
        # Controls: a process that does put the key in its argv, a file that holds it as HTTP basic auth.
        control = [sys.executable, "-c", "import time; time.sleep(0.5)", key]
        subprocess.run(control, check=True, timeout=30)
        (tmp_path / "tmp" / "control").write_bytes(base64.b64encode(f"api:{key}".encode()))
    finally:
        watch.stop()
    assert watch.samples > 20
    assert set(watch.seen) == {"\0".join(control) + "\0"}  # only the control
    assert len(list(root.glob("*/wandb/offline-run-*/*.wandb"))) == 2  # a pooled trial, a command-mode trial
    assert (reports / "report.html").is_file()
    written = [p for d in (root, reports, wandb_env, tmp_path / "tmp") for p in d.rglob("*") if p.is_file()]
    assert len(written) > 20
    patterns = encodings(key.encode())
    leaks = [str(p) for p in written if any(pattern in p.read_bytes() for pattern in patterns)]
    assert leaks == [str(tmp_path / "tmp" / "control")]
    assert not any(pattern in output for pattern in patterns)
