"""After a controller was killed: end the trial processes it left behind before ``resume`` looks at their runs.

A killed controller cannot end its trials. Command-mode trials lead their own process group and would run on
(and could even finish their wandb run after ``resume`` had re-queued their grid point); pooled workers notice
their parent is gone within a second and leave. Trial processes are found by their environment
(``LOCALSWEEP_SWEEP_ID`` and ``WANDB_RUN_ID``, which every trial and its wandb service inherit), not by a stored pid:
the controller can die between starting a trial and storing its pid, and pids get reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from localsweep.core.trial import Trial
from localsweep.workers.handoff import SWEEP_ID_VAR

_PROC = Path("/proc")
_WAIT_S = 3.0  # a pooled worker polls for its parent's death every second


def _environ(pid: int) -> set[bytes]:
    try:
        return set((_PROC / str(pid) / "environ").read_bytes().split(b"\0"))
    except OSError:
        return set()


def trial_processes(sweep_id: str, run_ids: Iterable[str]) -> list[int]:
    """Pids of live processes started for these trials of sweep ``sweep_id`` (trial, wandb service, children)."""
    sweep = f"{SWEEP_ID_VAR}={sweep_id}".encode()
    runs = {f"WANDB_RUN_ID={run_id}".encode() for run_id in run_ids}
    found: list[int] = []
    if not _PROC.is_dir():  # not Linux: orphans cannot be found, and resume goes on without ending them
        return found
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            environ = _environ(int(entry.name))
            if sweep in environ and runs & environ:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")  # a zombie has ended


def end_orphans(sweep_id: str, trials: list[Trial]) -> None:
    """SIGKILL every process of ``trials`` still running, then wait (a few seconds at most) until they and the
    trials' recorded pids (pooled workers, which leave by themselves) are gone."""
    pids = trial_processes(sweep_id, [t.run_id for t in trials])
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    waiting = set(pids) | {t.pid for t in trials if t.pid is not None and t.pid != os.getpid()}
    deadline = time.monotonic() + _WAIT_S
    while waiting and time.monotonic() < deadline:
        waiting = {pid for pid in waiting if _alive(pid)}
        time.sleep(0.05)
