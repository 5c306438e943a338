"""Who may write a sweep: the controller holding its lease (host, pid, heartbeat), and when that holder is dead.

One controller per sweep: two would both ask the search for suggestions and both decide the fate of each other's
trials. ``run`` and ``resume`` take the lease before they write anything, renew it while they run (the
heartbeat) and give it back when they end. A lease whose holder is dead is taken over:

- on the same host, the holder is dead when its pid is gone, or now belongs to another process (the process start
  time recorded with the lease no longer matches: pids are reused);
- on another host (pids mean nothing there), when its heartbeat is older than :data:`STALE_AFTER_S`.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_S = 2.0
"""How often a controller renews its lease (and an agent says it is alive)."""
STALE_AFTER_VAR = "LOCALSWEEP_STALE_AFTER"
STALE_AFTER_S = float(os.environ.get(STALE_AFTER_VAR) or 30.0)
"""A lease (or an agent) on another host with no heartbeat for this long is dead (many missed heartbeats);
``$LOCALSWEEP_STALE_AFTER`` seconds when set."""
HOST_VAR = "LOCALSWEEP_HOST"
_PROC = Path("/proc")


class SweepBusyError(RuntimeError):
    """Another live controller holds the sweep."""


class LeaseLostError(RuntimeError):
    """This controller's lease was taken over (it looked dead to another one): it must stop writing."""


@dataclass(frozen=True)
class Holder:
    """A lease holder: a random ``token`` proves ownership on every write; the rest says who it is."""

    token: str
    host: str
    pid: int
    pid_started: str | None
    acquired_at: float
    heartbeat_at: float

    def describe(self, now: float) -> str:
        """``pid 123 on host web-1, heartbeat 2 s ago``."""
        return f"pid {self.pid} on host {self.host}, heartbeat {max(0.0, now - self.heartbeat_at):.0f} s ago"


def hostname() -> str:
    """This machine's name as the sweep knows it: ``$LOCALSWEEP_HOST`` when set (a pod or container whose name
    says more than its hostname), else the hostname. Processes with the same name must share a pid namespace."""
    return os.environ.get(HOST_VAR) or socket.gethostname()


def this_process(now: float | None = None) -> Holder:
    """A new lease holder for the calling process."""
    now = time.time() if now is None else now
    pid = os.getpid()
    return Holder(secrets.token_hex(8), hostname(), pid, process_started(pid), now, now)


def process_started(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, from ``/proc``), None if it is not running.

    Together with the pid it names one process: a reused pid has a later start time.
    """
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields[19]  # field 22 of stat(5); fields[0] is field 3


def dead_because(holder: Holder, now: float, host: str | None = None) -> str | None:
    """Why ``holder`` is dead, or None when it may be alive. ``host`` is this machine's name (default: ours).

    >>> h = Holder("t", "elsewhere", 1, None, 0.0, 100.0)
    >>> dead_because(h, now=110.0, host="here") is None, dead_because(h, now=200.0, host="here")
    (True, 'no heartbeat from host elsewhere for 100 s (over 30 s)')
    """
    host = hostname() if host is None else host
    if holder.host != host:
        silent = now - holder.heartbeat_at
        return (
            f"no heartbeat from host {holder.host} for {silent:.0f} s (over {STALE_AFTER_S:g} s)"
            if silent > STALE_AFTER_S
            else None
        )
    if not _PROC.is_dir():  # no /proc (not Linux): only the heartbeat can tell
        return dead_because(holder, now, host=f"{host} (no /proc)")
    started = process_started(holder.pid)
    if started is None:
        return f"its process {holder.pid} is gone"
    if holder.pid_started is not None and started != holder.pid_started:
        return f"its process {holder.pid} is gone (the pid now belongs to another process)"
    return None
