"""What one test run builds once and all its pytest-xdist workers share: folders in the run's own temporary
directory, each built by the first worker that asks for it while the others wait on a file lock.

A session fixture runs once per xdist worker (each is a process of its own), so a fixture that trains models or
builds an image would otherwise do it once per worker. ``built_once`` makes it once per run: the first worker
builds under an exclusive ``flock``, the others block on that lock and then read what it wrote. A build that
failed or skipped is recorded, and every later asker fails or skips with the same message.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WORKER_VAR = "PYTEST_XDIST_WORKER"  # set by pytest-xdist in each worker process: gw0, gw1, ...


def run_root(base: Path) -> Path:
    """The temporary folder of the whole run, given this process's pytest basetemp.

    Under pytest-xdist each worker's basetemp is ``<the run's basetemp>/popen-gwN``; without it the one process
    has the run's basetemp itself.
    """
    return base.parent if os.environ.get(WORKER_VAR) else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block; the kernel drops it if the
    process dies, so a killed worker never leaves the others waiting forever."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` of this run, which ``build(folder)`` filled: run by the first caller of the run only."""
    folder = run_root(factory.getbasetemp()) / name
    done, failed, skipped = (folder.with_name(f"{name}.{state}") for state in ("done", "failed", "skipped"))
    with locked(folder.with_name(f"{name}.lock")):
        if failed.exists():
            pytest.fail(f"{name} could not be built (an earlier attempt in this run failed):\n{failed.read_text()}")
        if skipped.exists():
            pytest.skip(skipped.read_text())
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                build(folder)
            except pytest.skip.Exception as skip:
                skipped.write_text(str(skip.msg))
                raise
            except BaseException:
                failed.write_text(traceback.format_exc())
                raise
            done.touch()
    return folder
