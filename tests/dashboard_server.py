"""``python -m localsweep dashboard`` started as a user starts it, for the dashboard's tests: on a free port, its
address read from what it prints, stopped (SIGTERM, as Ctrl-C or ``docker stop`` would) when the test ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import REPO_ROOT

START_S = 120.0
STOP_S = 15.0


@dataclass
class Dashboard:
    """A running dashboard: ``url`` to open, ``lines`` it printed before serving, its ``process``."""

    url: str
    lines: list[str]
    process: subprocess.Popen[str]


@contextmanager
def dashboard(env: dict[str, str], *args: str) -> Iterator[Dashboard]:
    """Start the dashboard with ``args`` (``--port 0`` added) and yield it once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "localsweep", "dashboard", "--port", "0", *args],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines: list[str] = []
        deadline = time.monotonic() + START_S
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"the dashboard ended (exit {process.wait()}):\n{''.join(lines)}")
            lines.append(line)
            if len(lines) >= 2 and (found := re.search(r"http://\S+?:\d+/", lines[0])):
                # Keep reading what it says, so that a full pipe never blocks it.
                threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
                yield Dashboard(found.group(0), lines, process)
                break
        else:
            raise AssertionError(f"the dashboard printed no address in {START_S:g} s:\n{''.join(lines)}")
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then SIGKILL of its process group if it has not ended in :data:`STOP_S`; its exit code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()
