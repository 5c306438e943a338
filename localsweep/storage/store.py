"""A sweep's record for the processes that run it: a :class:`~localsweep.storage.view.SweepView` that also writes.

Every change is one transaction, so a ``kill -9`` at any moment leaves the old or the new state. Every write takes
one of three paths, and its method says which:

- *fenced by the lease* (:meth:`ControllerLease.fenced`): what the controller decides — suggestions, early
  termination, giving up a dead agent's trial, settings, the sync bookkeeping — is written only while the lease is
  still this process's own, so a controller that was cut off and comes back late changes nothing;
- *fenced by the owner*: how a trial ended (:meth:`SweepStore.finish_trial`) and its live history are taken only
  from the agent running it (or, once that agent is dead, from the lease holder);
- *an agent's own rows*: registering, heartbeats, claiming pending trials (each goes to exactly one agent), and the
  sweep's end, which any process may decide (the first reason stays).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from localsweep.core.trial import PENDING, RUNNING, TrialState
from localsweep.storage import schema
from localsweep.storage.database import Cursor, Database, open_database
from localsweep.storage.fence import ControllerLease
from localsweep.storage.lease import Holder
from localsweep.storage.rows import next_rev, set_meta, touch
from localsweep.storage.seat import AgentSeat
from localsweep.storage.view import (
    DEFAULT_ROOT,
    STORAGE_VAR,
    AgentInfo,
    Location,
    SweepView,
    default_storage,
    find_sweep,
    meta,
    sweep_locations,
)

__all__ = [
    "DEFAULT_ROOT",
    "STORAGE_VAR",
    "AgentInfo",
    "Location",
    "SweepStore",
    "SweepView",
    "default_storage",
    "find_sweep",
    "sweep_locations",
]
SCHEMA_VERSION = schema.SCHEMA_VERSION


class SweepStore(SweepView):
    """One sweep's record, read and written; :meth:`create` a new one, :meth:`connect` (or :meth:`open`) one."""

    def __init__(self, db: Database, directory: Path, storage: str | None = None) -> None:
        super().__init__(db, directory, storage)
        self._lease = ControllerLease(db, self.name, self._judged)

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        name: str,
        sweep_id: str,
        config: dict[str, Any],
        source: str,
        settings: dict[str, Any],
        storage: str | None = None,
    ) -> SweepStore:
        """Create the store of a new sweep (its folder is ``directory``); refuses to overwrite an existing one.

        ``settings`` are the run options ``resume`` and agents reuse (seed, function, working directory).
        """
        db = open_database(storage, directory, name)
        try:
            db.create(schema.statements(db), _first_meta(name, sweep_id, config, source, settings))
        except FileExistsError as err:
            raise FileExistsError(
                f"{err}: continue it with `python -m localsweep resume {name}` or choose another --name"
            ) from None
        return cls(db, directory, storage)

    # -- the controller's lease (storage/fence.py) -----------------------------------------------------------

    def acquire_lease(self) -> tuple[Holder, str] | None:
        """Take the controller role (:meth:`ControllerLease.acquire`); the dead holder taken over and why, if any."""
        return self._lease.acquire()

    @property
    def holds_lease(self) -> bool:
        """Whether this store took the controller role (and has not given it back)."""
        return self._lease.token is not None

    def heartbeat(self) -> None:
        """Renew the lease (:class:`LeaseLostError` when another controller took the sweep over)."""
        self._lease.renew()

    def release_lease(self) -> None:
        """Give the controller role back (best effort; a no-op when it is not ours)."""
        self._lease.release()

    # -- what the controller decides (fenced by its lease) ----------------------------------------------------

    def add_pending(self, run_id: str, params: dict[str, Any]) -> int:
        """Record a suggestion as a pending trial; returns its number. Safe to repeat (same ``run_id``)."""

        def add(cursor: Cursor) -> int:
            cursor.execute("SELECT number FROM trials WHERE run_id = ?", (run_id,))
            row = cursor.fetchone()
            if row is not None:  # this very suggestion was committed, and the answer lost with the connection
                return int(row[0])
            self._db.lock(cursor, "trials")
            cursor.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM trials")
            number = int(cursor.fetchone()[0])
            cursor.execute(
                "INSERT INTO trials (number, run_id, state, params, started_at, rev) VALUES (?, ?, ?, ?, ?, ?)",
                (number, run_id, PENDING.value, json.dumps(params), time.time(), next_rev(cursor)),
            )
            return number

        return int(self._lease.fenced(add))

    def request_stop(self, run_id: str) -> None:
        """Early termination decided to stop a running trial; its agent ends it."""
        self._lease.fenced(lambda c: touch(c, "stop_requested = 1", run_id))

    def set_decided(self, run_ids: list[str], lengths: list[int]) -> None:
        """Early termination has judged these trials up to these history lengths (they may go past a rung)."""

        def write(cursor: Cursor) -> None:
            for run_id, length in zip(run_ids, lengths, strict=True):
                touch(cursor, "decided = ?", run_id, (length,))

        if run_ids:
            self._lease.fenced(write)

    def mark_retried(self, run_ids: list[str]) -> None:
        """Take crashed trials out of the search so that their parameters run again (``resume --retry-crashed``)."""

        def write(cursor: Cursor) -> None:
            for run_id in run_ids:
                touch(cursor, "retried = 1", run_id)

        if run_ids:
            self._lease.fenced(write)

    def update_settings(self, **changes: Any) -> None:
        """Change stored run options (``resume --trial-timeout`` replaces the one given to ``run``)."""
        settings = {**self.settings, **changes}
        self._lease.fenced(lambda c: set_meta(c, "settings", json.dumps(settings)))
        self.settings = settings

    def record_uploaded(self, run_ids: list[str], *, lost: Sequence[str] = ()) -> None:
        """Add run ids to those uploaded, and take out the ``lost`` ones (the server no longer holds them: they are
        to upload again), in one write."""
        done = sorted({*self.uploaded(), *run_ids} - set(lost))
        self._lease.fenced(lambda c: set_meta(c, "uploaded", json.dumps(done)))

    def record_wandb_sweep(self, path: str, run_ids: list[str]) -> None:
        """Remember the W&B sweep that holds the uploaded runs."""
        self._lease.fenced(lambda c: set_meta(c, "wandb_sweep", json.dumps({"path": path, "run_ids": run_ids})))

    # -- the sweep's end, which any process may decide (a trial refusing its parameters, say) ----------------

    def end_sweep(self, reason: str, exit_code: int | None, interrupt: bool) -> None:
        """Stop the whole sweep: no agent takes a new trial; with ``interrupt``, they end their running ones too.
        ``exit_code`` None: each agent's exit code then says whether the sweep has a scored trial. The first reason
        given stays."""
        value = json.dumps({"reason": reason, "exit_code": exit_code, "interrupt": interrupt})

        def write(cursor: Cursor) -> None:
            if meta(cursor, "ended") is None:
                set_meta(cursor, "ended", value)

        self._db.transaction(write)

    def reopen(self) -> None:
        """Clear a recorded end, so that ``resume`` continues the sweep (fenced: the controller does this)."""
        self._lease.fenced(lambda c: c.execute("DELETE FROM meta WHERE key = 'ended'"))

    # -- an agent's own rows and results (storage/seat.py) -------------------------------------------------

    def seat(self, agent: AgentInfo) -> AgentSeat:
        """What ``agent`` writes: its registration, heartbeats, claims, and its running trials' pids and history."""
        return AgentSeat(self._db, agent)

    def finish_trial(
        self,
        run_id: str,
        *,
        state: TrialState,
        requeued: bool,
        exit_code: int | None,
        error: str | None,
        run_dir: Path | None,
        history: list[dict[str, Any]],
        summary: dict[str, Any],
        artifacts: list[dict[str, Any]],
        metric_value: float | None,
        metric_imputed: bool,
        owner: str | None = None,
    ) -> bool:
        """Record how a running trial ended, all in one transaction; False when it was not recorded.

        ``owner`` is the agent that ran it: its record is taken only if the trial is still running and still its
        own (an agent cut off for long has seen its trials given up). Without ``owner`` the caller must hold the
        lease (the controller recording a dead agent's trial). Safe to repeat.
        """
        ended_at = time.time()
        columns = {
            "state": state.value,
            "requeued": int(requeued),
            "ended_at": ended_at,
            "exit_code": exit_code,
            "error": error,
            "run_dir": None if run_dir is None else str(run_dir),
            "history": json.dumps(history, default=str),
            "summary": json.dumps(summary, default=str),
            "artifacts": json.dumps(artifacts),
            "metric_value": metric_value if metric_value is None or math.isfinite(metric_value) else None,
            "metric_imputed": int(metric_imputed),
        }

        def write(cursor: Cursor) -> bool:
            assignments = ", ".join(f"{column} = ?" for column in columns)
            owned = "" if owner is None else " AND agent = ?"
            cursor.execute(
                f"UPDATE trials SET {assignments}, rev = ? WHERE run_id = ? AND state = ?{owned}",
                (*columns.values(), next_rev(cursor), run_id, RUNNING.value, *([owner] if owner else [])),
            )
            if cursor.rowcount == 1:
                return True
            cursor.execute("SELECT ended_at FROM trials WHERE run_id = ?", (run_id,))
            row = cursor.fetchone()
            return row is not None and row[0] == ended_at  # committed before, the answer lost with the connection

        return bool(self._db.transaction(write) if owner is not None else self._lease.fenced(write))

    # -- small outputs, readable from any host ----------------------------------------------------------------

    def store_file(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a trial's output file (compressed) in the database."""
        packed = zlib.compress(data, 6)

        def write(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM files WHERE run_id = ? AND name = ?", (run_id, name))
            cursor.execute("INSERT INTO files (run_id, name, data) VALUES (?, ?, ?)", (run_id, name, packed))

        self._db.transaction(write)


def _first_meta(
    name: str, sweep_id: str, config: dict[str, Any], source: str, settings: dict[str, Any]
) -> Callable[[Cursor], None]:
    """What a new sweep's ``meta`` table starts with."""
    meta = {
        "name": name,
        "sweep_id": sweep_id,
        "created_at": repr(time.time()),
        "source": source,
        "config": json.dumps(config),
        "settings": json.dumps(settings),
        "schema_version": str(SCHEMA_VERSION),
        "rev": "0",
    }

    def rows(cursor: Cursor) -> None:
        for key, value in meta.items():
            cursor.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    return rows
