"""Running ``python -m localsweep`` as a user would, for the engine's tests: start it, wait on its store, finish it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localsweep.core.trial import Trial
from tests.conftest import REPO_ROOT, stored_trials

ECHO_PROGRAM = "tests/localsweep_programs/echo_config.py"
"""The tiny TensorFlow-free trial program (command mode, relative to the repository root)."""
ECHO_FUNCTION = "tests.localsweep_programs.echo_config:main"
"""The same program as a pooled worker's function (``--function``)."""


def signal_at(env: dict[str, str], point: str, signum: signal.Signals, **more: str) -> dict[str, str]:
    """``env`` for a process that sends itself ``signum`` when ``point`` (``module:function``) is first called
    (``tests/localsweep_programs/signal_at/sitecustomize.py``: ``more`` are its other settings)."""
    hook = REPO_ROOT / "tests" / "localsweep_programs" / "signal_at"
    path = os.pathsep.join([str(hook), env["PYTHONPATH"]])
    return {**env, **more, "SIGNAL_AT": point, "SIGNAL_NAME": signum.name, "PYTHONPATH": path}


def python_m(
    module: str, env: dict[str, str], *args: str | Path, cwd: Path = REPO_ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` run to its end (from the repository root unless ``cwd``), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(env: dict[str, str], *args: str | Path, **popen: object) -> subprocess.Popen[str]:
    """``python -m localsweep ARGS`` from the repository root, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "localsweep", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def finish(process: subprocess.Popen[str], code: int = 0, trial_tracebacks: bool = False) -> str:
    """Its stderr, once it exited with ``code`` and no traceback (``trial_tracebacks``: the trials' own may show,
    but never one through the engine)."""
    _, stderr = process.communicate(timeout=600)  # generous: the tests run in parallel processes on two cores
    assert process.returncode == code, stderr
    assert f"{os.sep}localsweep{os.sep}" not in stderr, stderr
    assert trial_tracebacks or "Traceback" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr  # what Python prints for an error in a finaliser or at exit
    return stderr


def wait_for(sweep: Path, ready: Callable[[list[Trial]], bool], timeout: float = 300.0) -> list[Trial]:
    """The sweep's trials once ``ready`` says so (a limit, not a speed requirement: a controller's start-up waits
    for the CPU when the tests run in parallel processes on two cores)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = stored_trials(sweep)
        if ready(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for the sweep; trials: {[(t.state, t.pid) for t in stored_trials(sweep)]}")
