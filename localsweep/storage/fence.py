"""The controller's lease as stored: taken, renewed and given back, and the fence every controller write goes
through (:meth:`ControllerLease.fenced`: the transaction first proves the lease is still this process's own).

Who is alive and who is dead is ``lease.py``'s rule; this is where it meets the database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from localsweep.storage import lease
from localsweep.storage.database import Cursor, Database
from localsweep.storage.lease import Holder, LeaseLostError, SweepBusyError
from localsweep.storage.view import CONTROLLER, holder_of


class ControllerLease:
    """The lease of sweep ``name`` in ``db``; ``judged`` adjusts a holder's heartbeat for database outages."""

    def __init__(self, db: Database, name: str, judged: Callable[[Holder], Holder]) -> None:
        self._db = db
        self._name = name
        self._judged = judged
        self.token: str | None = None

    def acquire(self) -> tuple[Holder, str] | None:
        """Take the controller role; returns the dead holder taken over and why it is dead, if any.

        Raises
        ------
        SweepBusyError
            When a live controller holds it.
        """
        me = lease.this_process()

        def take(cursor: Cursor) -> tuple[Holder, str] | None:
            self._db.lock(cursor, "lease")
            holder = holder_of(cursor)
            why = None if holder is None else lease.dead_because(self._judged(holder), time.time())
            if holder is not None and why is None:
                raise SweepBusyError(
                    f"sweep {self._name} is being run by another controller ({holder.describe(time.time())}): "
                    f"stop it first, or wait for it to end; `python -m localsweep status {self._name}` shows it"
                )
            cursor.execute("DELETE FROM lease WHERE name = ?", (CONTROLLER,))
            cursor.execute(
                "INSERT INTO lease (name, token, host, pid, pid_started, acquired_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (CONTROLLER, me.token, me.host, me.pid, me.pid_started, me.acquired_at, me.heartbeat_at),
            )
            return None if holder is None or why is None else (holder, why)

        taken = self._db.transaction(take)
        self.token = me.token
        return taken

    def renew(self) -> None:
        """The heartbeat.

        Raises
        ------
        LeaseLostError
            When another controller took the sweep over.
        """
        self.fenced(lambda c: c.execute("UPDATE lease SET heartbeat_at = ? WHERE token = ?", (time.time(), self.token)))

    def release(self) -> None:
        """Give the role back (a no-op when it is not ours). Best effort: when the store cannot be written (a full
        disk), the lease stays, and the next controller takes it over once this process has ended."""
        token, self.token = self.token, None
        if token is not None:
            with contextlib.suppress(Exception):  # whichever database's error: see the docstring
                self._db.transaction(lambda c: c.execute("DELETE FROM lease WHERE token = ?", (token,)))

    def fenced(self, work: Callable[[Cursor], Any]) -> Any:
        """Run ``work`` in a transaction that first proves this process still holds the lease.

        Raises
        ------
        LeaseLostError
            When it does not (then nothing is written).
        """

        def checked(cursor: Cursor) -> Any:
            cursor.execute(f"SELECT token FROM lease WHERE name = ?{self._db.share_lock}", (CONTROLLER,))
            row = cursor.fetchone()
            if self.token is None or row is None or row[0] != self.token:
                holder = holder_of(cursor)
                by = "nobody" if holder is None else f"another controller ({holder.describe(time.time())})"
                raise LeaseLostError(f"sweep {self._name} is now held by {by}: this controller stops writing")
            return work(cursor)

        return self._db.transaction(checked)
