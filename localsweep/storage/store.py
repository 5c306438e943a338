"""The durable record of one sweep: its trials, the controller's lease, its agents, small outputs of its trials.

Stored in SQLite (``<root>/<name>/sweep.db``, the default) or PostgreSQL (``--storage postgresql://...``, for
agents on many hosts): ``localsweep/storage`` hides which. Every change is one transaction, so a ``kill -9`` at any
moment leaves the old or the new state. Writes are fenced: what the controller decides (suggestions, early
termination, giving up a dead agent's trial) is written only while its lease is still its own, and how a trial
ended only by the agent running it (or by the controller, once that agent is dead), so a process that was cut off
and comes back late changes nothing.

Public API (stable, used by the analysis package)::

    store = SweepStore.connect(find_sweep("grid-20250101-120000"))   # or SweepStore.open(sweep_directory)
    store.name, store.sweep_id, store.config, store.metric_name, store.goal
    store.trials()        # list[Trial], in start order
    store.best_trial()    # Trial | None: the best finished/stopped trial by the sweep metric
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.objectives import primary
from localsweep.core import trial as trial_module
from localsweep.core.trial import PENDING, RUNNING, Trial, TrialState
from localsweep.storage import lease, schema
from localsweep.storage.database import Cursor, Database, SqliteDatabase, is_postgres, open_database, sweep_names
from localsweep.storage.layout import DB_NAME, SweepLayout
from localsweep.storage.lease import Holder, LeaseLostError, SweepBusyError

DEFAULT_ROOT = Path("offline_sweeps")
STORAGE_VAR = "LOCALSWEEP_STORAGE"


def default_storage() -> str | None:
    """Where sweeps are recorded unless said otherwise: ``$LOCALSWEEP_STORAGE`` (a PostgreSQL URL), else None
    (a SQLite file in each sweep's folder)."""
    return os.environ.get(STORAGE_VAR) or None


SCHEMA_VERSION = schema.SCHEMA_VERSION
_CONTROLLER = "controller"
_COLUMNS = (
    "number, run_id, state, params, started_at, ended_at, pid, exit_code, error, run_dir, history, summary, "
    "artifacts, metric_value, metric_imputed, requeued, agent, host, stop_requested, decided, rev, retried"
)


@dataclass(frozen=True)
class Location:
    """Where sweep ``name`` lives: its database (``storage``: None for the SQLite file in its folder, else a
    PostgreSQL URL) and its folder on this host (``root/name``: run dirs, logs)."""

    name: str
    root: Path = DEFAULT_ROOT
    storage: str | None = None

    @property
    def directory(self) -> Path:
        """The sweep's folder on this host."""
        return self.root / self.name


def find_sweep(name: str | None = None, root: Path = DEFAULT_ROOT, storage: str | None = None) -> Location:
    """Sweep ``name`` in ``storage`` (default: :func:`default_storage`, else the SQLite sweeps under ``root``);
    without a name, the newest one.

    Raises
    ------
    FileNotFoundError
        When there is no such sweep (the message lists the sweeps that exist).
    """
    storage = storage or default_storage()
    names = [location.name for location in sweep_locations(root, storage)]
    where = f"under {root}/" if storage is None else f"in {storage.split('@')[-1]}"
    if name is None and names:
        stores = [SweepStore.connect(Location(n, root, storage)) for n in names]
        return Location(max(stores, key=lambda s: s.created_at).name, root, storage)
    if name is not None and name in names:
        return Location(name, root, storage)
    if name is None:
        raise FileNotFoundError(
            f"no sweep {where} yet: start one with `python -m localsweep run SWEEP.yaml`, or pass --root/--storage"
        )
    raise FileNotFoundError(
        f"sweep {name!r} not found {where} (sweeps there: {', '.join(names) or 'none'}); "
        "pass --root/--storage or a name"
    )


def sweep_locations(root: Path = DEFAULT_ROOT, storage: str | None = None) -> list[Location]:
    """Every sweep recorded in ``storage`` (a PostgreSQL URL), else every SQLite sweep under ``root``, by name.

    Raises
    ------
    ValueError
        When ``storage`` is not a PostgreSQL URL.
    """
    if storage is not None:
        if not is_postgres(storage):
            raise ValueError(f"--storage must be a postgresql:// URL, but got {storage!r}")
        names = sweep_names(storage)
    else:
        names = sorted(p.parent.name for p in root.glob(f"*/{DB_NAME}")) if root.is_dir() else []
    return [Location(name, root, storage) for name in names]


def locate_sweep(name: str | None = None, root: Path = DEFAULT_ROOT) -> Path:
    """The folder of SQLite sweep ``name`` under ``root`` (see :func:`find_sweep`)."""
    return find_sweep(name, root).directory


@dataclass(frozen=True)
class AgentInfo:
    """A process that runs trials of the sweep, as registered; ``idle`` is how many more trials it would take."""

    agent_id: str
    host: str
    pid: int
    pid_started: str | None
    workdir: str
    started_at: float
    heartbeat_at: float
    slots: int
    idle: int
    left_at: float | None

    def holder(self) -> Holder:
        """The agent as a lease holder, to ask :func:`localsweep.storage.lease.dead_because` whether it is alive."""
        return Holder(self.agent_id, self.host, self.pid, self.pid_started, self.started_at, self.heartbeat_at)


class SweepStore:
    """One sweep's record; :meth:`create` a new one, :meth:`connect` (or :meth:`open`) an existing one."""

    def __init__(self, db: Database, directory: Path, storage: str | None = None) -> None:
        self._db = db
        self.directory = directory
        self.storage = storage
        self.layout = SweepLayout(directory)
        schema.migrate(db)
        meta = dict(db.read(lambda c: _all(c, "SELECT key, value FROM meta")))
        self.name: str = meta["name"]
        self.sweep_id: str = meta["sweep_id"]
        self.created_at = float(meta["created_at"])
        self.config: dict[str, Any] = json.loads(meta["config"])
        self.source: str = meta["source"]
        self.settings: dict[str, Any] = json.loads(meta["settings"])
        metric = primary(self.config)  # the one `metric`, or the first of `metrics:`
        self.metric_name: str | None = None if metric is None else metric.name
        self.goal: str = "minimize" if metric is None else metric.goal
        self._token: str | None = None

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

        try:
            db.create(schema.statements(db), rows)
        except FileExistsError as err:
            raise FileExistsError(
                f"{err}: continue it with `python -m localsweep resume {name}` or choose another --name"
            ) from None
        return cls(db, directory, storage)

    @classmethod
    def open(cls, path: Path) -> SweepStore:
        """Open the sweep whose folder is ``path`` (recorded where :func:`default_storage` says), or the SQLite
        store ``path`` names directly (older versions are migrated)."""
        path = Path(path)
        if path.suffix != ".db" and default_storage() is not None:
            return cls.connect(Location(path.name, path.parent, default_storage()))
        db_path = path if path.suffix == ".db" else path / DB_NAME
        if not db_path.is_file():
            raise FileNotFoundError(f"no sweep store at {db_path}: is {path} a sweep directory?")
        return cls(SqliteDatabase(db_path), db_path.parent)

    @classmethod
    def connect(cls, location: Location) -> SweepStore:
        """Open the sweep at ``location`` (older versions are migrated).

        Raises
        ------
        FileNotFoundError
            When it does not exist.
        """
        db = open_database(location.storage, location.directory, location.name)
        if not db.exists():
            raise FileNotFoundError(f"no sweep {location.name!r} in {db.describe()}")
        return cls(db, location.directory, location.storage)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def seen(self, heartbeat_at: float) -> float:
        """When a process last proved it was alive, as far as this store can tell: its heartbeat, or the moment the
        database came back after being unreachable (nobody could heartbeat meanwhile), whichever is later."""
        return max(heartbeat_at, self._db.reconnected_at or 0.0)

    def describe(self) -> str:
        """Where the record is stored."""
        return self._db.describe()

    # -- the controller's lease -------------------------------------------------------------------------------

    def acquire_lease(self, *, force_free: bool = False) -> tuple[Holder, str] | None:
        """Take the controller role; returns the dead holder taken over and why it is dead, if any.

        Raises
        ------
        SweepBusyError
            When a live controller holds it.
        """
        me = lease.this_process()

        def take(cursor: Cursor) -> tuple[Holder, str] | None:
            self._db.lock(cursor, "lease")
            holder = _holder(cursor)
            why = None if holder is None else lease.dead_because(self._judged(holder), time.time())
            if holder is not None and why is None:
                raise SweepBusyError(
                    f"sweep {self.name} is being run by another controller ({holder.describe(time.time())}): "
                    f"stop it first, or wait for it to end; `python -m localsweep status {self.name}` shows it"
                )
            cursor.execute("DELETE FROM lease WHERE name = ?", (_CONTROLLER,))
            cursor.execute(
                "INSERT INTO lease (name, token, host, pid, pid_started, acquired_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_CONTROLLER, me.token, me.host, me.pid, me.pid_started, me.acquired_at, me.heartbeat_at),
            )
            return None if holder is None or why is None else (holder, why)

        taken = self._db.transaction(take)
        self._token = me.token
        return taken

    @property
    def holds_lease(self) -> bool:
        """Whether this store took the controller role (and has not given it back)."""
        return self._token is not None

    def heartbeat(self) -> None:
        """Renew the lease.

        Raises
        ------
        LeaseLostError
            When another controller took the sweep over.
        """
        self._fenced(
            lambda c: c.execute("UPDATE lease SET heartbeat_at = ? WHERE token = ?", (time.time(), self._token))
        )

    def release_lease(self) -> None:
        """Give the controller role back (a no-op when it is not ours). Best effort: when the store cannot be
        written (a full disk), the lease stays, and the next controller takes it over once this process has ended."""
        token, self._token = self._token, None
        if token is not None:
            with contextlib.suppress(Exception):  # whichever database's error: see the docstring
                self._db.transaction(lambda c: c.execute("DELETE FROM lease WHERE token = ?", (token,)))

    def controller(self) -> tuple[Holder | None, str | None]:
        """The controller holding the sweep and, when it is dead, why (``(None, None)``: nobody holds it)."""
        holder = self._db.read(_holder)
        return holder, None if holder is None else lease.dead_because(self._judged(holder), time.time())

    def _judged(self, holder: Holder) -> Holder:
        return dataclasses.replace(holder, heartbeat_at=self.seen(holder.heartbeat_at))

    def _fenced(self, work: Any) -> Any:
        """Run ``work`` in a transaction that first proves this store still holds the lease."""

        def checked(cursor: Cursor) -> Any:
            cursor.execute(f"SELECT token FROM lease WHERE name = ?{self._db.share_lock}", (_CONTROLLER,))
            row = cursor.fetchone()
            if self._token is None or row is None or row[0] != self._token:
                holder = _holder(cursor)
                by = "nobody" if holder is None else f"another controller ({holder.describe(time.time())})"
                raise LeaseLostError(f"sweep {self.name} is now held by {by}: this controller stops writing")
            return work(cursor)

        return self._db.transaction(checked)

    # -- reading trials ---------------------------------------------------------------------------------------

    def trials(self) -> list[Trial]:
        """Every trial, in the order they were suggested."""
        return self._db.read(lambda c: _trials(c, "ORDER BY number"))

    def trial(self, run_id: str) -> Trial:
        """The trial with this run id.

        Raises
        ------
        KeyError
            When the sweep has no such trial.
        """
        found = self._db.read(lambda c: _trials(c, "WHERE run_id = ?", (run_id,)))
        if not found:
            raise KeyError(f"sweep {self.name} has no trial {run_id!r}")
        return found[0]

    def changed_since(self, rev: int) -> tuple[list[Trial], int]:
        """The trials changed after revision ``rev``, and the newest revision (read only what changed)."""

        def read(cursor: Cursor) -> tuple[list[Trial], int]:
            cursor.execute("SELECT value FROM meta WHERE key = 'rev'")
            row = cursor.fetchone()
            return _trials(cursor, "WHERE rev > ? ORDER BY number", (rev,)), int(row[0]) if row else 0

        return self._db.read(read)

    def best_trial(self) -> Trial | None:
        """The finished or stopped trial with the best (not imputed) sweep metric, or None."""
        return trial_module.best(self.goal, self.trials())

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
                (number, run_id, PENDING.value, json.dumps(params), time.time(), _next_rev(cursor)),
            )
            return number

        return int(self._fenced(add))

    def add_trial(self, run_id: str, params: dict[str, Any], agent: str | None = None) -> int:
        """Record a trial as suggested and already running (taken by ``agent``); returns its number."""
        number = self.add_pending(run_id, params)
        self._db.transaction(lambda c: _start(c, run_id, agent, lease.hostname()))
        return number

    def request_stop(self, run_id: str) -> None:
        """Early termination decided to stop a running trial; its agent ends it."""
        self._fenced(lambda c: _touch(c, "stop_requested = 1", run_id))

    def set_decided(self, run_ids: list[str], lengths: list[int]) -> None:
        """Early termination has judged these trials up to these history lengths (they may go past a rung)."""

        def write(cursor: Cursor) -> None:
            for run_id, length in zip(run_ids, lengths, strict=True):
                _touch(cursor, "decided = ?", run_id, (length,))

        if run_ids:
            self._fenced(write)

    def mark_retried(self, run_ids: list[str]) -> None:
        """Take crashed trials out of the search so that their parameters run again (``resume --retry-crashed``)."""

        def write(cursor: Cursor) -> None:
            for run_id in run_ids:
                _touch(cursor, "retried = 1", run_id)

        if run_ids:
            self._fenced(write)

    def update_settings(self, **changes: Any) -> None:
        """Change stored run options (``resume --trial-timeout`` replaces the one given to ``run``)."""
        settings = {**self.settings, **changes}
        self._fenced(lambda c: _set_meta(c, "settings", json.dumps(settings)))
        self.settings = settings

    @property
    def wandb_sweep(self) -> dict[str, Any] | None:
        """The W&B sweep ``sync`` made of this sweep: ``{"path": "ENTITY/PROJECT/ID", "run_ids": [...]}``, or None."""
        value = self._db.read(lambda c: _meta(c, "wandb_sweep"))
        return None if value is None else dict(json.loads(value))

    def uploaded(self) -> list[str]:
        """The run ids ``sync`` has uploaded so far (on any host)."""
        value = self._db.read(lambda c: _meta(c, "uploaded"))
        return [] if value is None else list(json.loads(value))

    def record_uploaded(self, run_ids: list[str]) -> None:
        """Add run ids to those uploaded."""
        done = sorted({*self.uploaded(), *run_ids})
        self._fenced(lambda c: _set_meta(c, "uploaded", json.dumps(done)))

    def forget_uploaded(self, run_ids: list[str]) -> None:
        """Take run ids out of those uploaded (the server no longer holds them: they are to upload again)."""
        if run_ids:
            kept = sorted(set(self.uploaded()) - set(run_ids))
            self._fenced(lambda c: _set_meta(c, "uploaded", json.dumps(kept)))

    def record_wandb_sweep(self, path: str, run_ids: list[str]) -> None:
        """Remember the W&B sweep that holds the uploaded runs."""
        self._fenced(lambda c: _set_meta(c, "wandb_sweep", json.dumps({"path": path, "run_ids": run_ids})))

    # -- the sweep's end, which any process may decide (a trial refusing its parameters, say) ----------------

    def end_sweep(self, reason: str, exit_code: int | None, interrupt: bool) -> None:
        """Stop the whole sweep: no agent takes a new trial; with ``interrupt``, they end their running ones too.
        ``exit_code`` None: each agent's exit code then says whether the sweep has a scored trial. The first reason
        given stays."""
        value = json.dumps({"reason": reason, "exit_code": exit_code, "interrupt": interrupt})

        def write(cursor: Cursor) -> None:
            if _meta(cursor, "ended") is None:
                _set_meta(cursor, "ended", value)

        self._db.transaction(write)

    def ended(self) -> dict[str, Any] | None:
        """Why the sweep was stopped (``reason``, ``exit_code``, ``interrupt``), or None while it goes on."""
        value = self._db.read(lambda c: _meta(c, "ended"))
        return None if value is None else dict(json.loads(value))

    def reopen(self) -> None:
        """Clear a recorded end, so that ``resume`` continues the sweep (fenced: the controller does this)."""
        self._fenced(lambda c: c.execute("DELETE FROM meta WHERE key = 'ended'"))

    # -- agents ------------------------------------------------------------------------------------------------

    def register_agent(self, agent: AgentInfo) -> None:
        """Add (or renew) an agent of the sweep."""
        values = (agent.host, agent.pid, agent.pid_started, agent.workdir, agent.started_at, agent.heartbeat_at,
                  agent.slots, agent.idle)  # fmt: skip

        def write(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM agents WHERE agent_id = ?", (agent.agent_id,))
            cursor.execute(
                "INSERT INTO agents (agent_id, host, pid, pid_started, workdir, started_at, heartbeat_at, slots, "
                "idle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (agent.agent_id, *values),
            )

        self._db.transaction(write)

    def agent_heartbeat(self, agent_id: str, idle: int) -> None:
        """The agent is alive and would take ``idle`` more trials now."""
        self._db.transaction(
            lambda c: c.execute(
                "UPDATE agents SET heartbeat_at = ?, idle = ? WHERE agent_id = ?", (time.time(), idle, agent_id)
            )
        )

    def leave(self, agent_id: str) -> None:
        """The agent has ended (its trials are recorded)."""
        self._db.transaction(
            lambda c: c.execute("UPDATE agents SET left_at = ?, idle = 0 WHERE agent_id = ?", (time.time(), agent_id))
        )

    def agents(self) -> list[AgentInfo]:
        """Every agent that joined the sweep."""
        rows = self._db.read(
            lambda c: _all(
                c,
                "SELECT agent_id, host, pid, pid_started, workdir, started_at, heartbeat_at, slots, idle, left_at "
                "FROM agents ORDER BY started_at",
            )
        )
        return [AgentInfo(*row) for row in rows]

    def claim(self, agent_id: str, host: str, count: int, known: set[str]) -> list[Trial]:
        """Take up to ``count`` pending trials for an agent (each pending trial goes to exactly one agent).

        Safe to repeat: trials this agent already took but does not know of (``known``: those it runs) are
        returned first, so a claim whose answer was lost with the connection is not lost with it.
        """

        def take(cursor: Cursor) -> list[Trial]:
            mine = [t for t in _trials(cursor, "WHERE agent = ? AND state = ?", (agent_id, RUNNING.value))]
            lost = [t for t in mine if t.run_id not in known]
            if lost or count <= 0:
                return lost[:count]
            cursor.execute(
                f"SELECT run_id FROM trials WHERE state = ? ORDER BY number LIMIT ?{self._db.skip_locked}",
                (PENDING.value, count),
            )
            run_ids = [row[0] for row in cursor.fetchall()]
            for run_id in run_ids:
                _start(cursor, run_id, agent_id, host)
            return [t for run_id in run_ids for t in _trials(cursor, "WHERE run_id = ?", (run_id,))]

        return self._db.transaction(take)

    def set_pid(self, run_id: str, pid: int) -> None:
        """Remember the process running a trial (so ``resume`` can end an orphan)."""
        self._db.transaction(lambda c: _touch(c, "pid = ?", run_id, (pid,)))

    def push_history(self, run_id: str, agent_id: str, history: list[dict[str, Any]]) -> None:
        """The history a running trial of ``agent_id`` has logged so far (early termination reads it from here,
        on any host); ignored once the trial is no longer that agent's running trial."""

        def write(cursor: Cursor) -> None:
            cursor.execute(
                "SELECT 1 FROM trials WHERE run_id = ? AND state = ? AND agent = ?", (run_id, RUNNING.value, agent_id)
            )
            if cursor.fetchone() is not None:
                _touch(cursor, "history = ?", run_id, (json.dumps(history, default=str),))

        self._db.transaction(write)

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
                (*columns.values(), _next_rev(cursor), run_id, RUNNING.value, *([owner] if owner else [])),
            )
            if cursor.rowcount == 1:
                return True
            cursor.execute("SELECT ended_at FROM trials WHERE run_id = ?", (run_id,))
            row = cursor.fetchone()
            return row is not None and row[0] == ended_at  # committed before, the answer lost with the connection

        return bool(self._db.transaction(write) if owner is not None else self._fenced(write))

    # -- small outputs, readable from any host ----------------------------------------------------------------

    def store_file(self, run_id: str, name: str, data: bytes) -> None:
        """Keep a trial's output file (compressed) in the database."""
        packed = zlib.compress(data, 6)

        def write(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM files WHERE run_id = ? AND name = ?", (run_id, name))
            cursor.execute("INSERT INTO files (run_id, name, data) VALUES (?, ?, ?)", (run_id, name, packed))

        self._db.transaction(write)

    def read_file(self, run_id: str, name: str) -> bytes | None:
        """A trial's output file kept by :meth:`store_file`, or None."""
        row = self._db.read(lambda c: _one(c, "SELECT data FROM files WHERE run_id = ? AND name = ?", (run_id, name)))
        return None if row is None else zlib.decompress(bytes(row[0]))


def _all(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _one(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()


def _meta(cursor: Cursor, key: str) -> str | None:
    row = _one(cursor, "SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def _set_meta(cursor: Cursor, key: str, value: str) -> None:
    cursor.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _next_rev(cursor: Cursor) -> int:
    # The row lock this UPDATE takes is held to the commit, so revisions become visible in the order they are given.
    cursor.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'rev' RETURNING value")
    row = cursor.fetchone()
    if row is None:  # a store migrated from version 2 has no counter yet
        _set_meta(cursor, "rev", "1")
        return 1
    return int(row[0])


def _touch(cursor: Cursor, assignment: str, run_id: str, params: tuple[Any, ...] = ()) -> None:
    cursor.execute(f"UPDATE trials SET {assignment}, rev = ? WHERE run_id = ?", (*params, _next_rev(cursor), run_id))


def _start(cursor: Cursor, run_id: str, agent: str | None, host: str) -> None:
    _touch(cursor, "state = ?, agent = ?, host = ?, started_at = ?", run_id, (RUNNING.value, agent, host, time.time()))


def _holder(cursor: Cursor) -> Holder | None:
    row = _one(
        cursor,
        "SELECT token, host, pid, pid_started, acquired_at, heartbeat_at FROM lease WHERE name = ?",
        (_CONTROLLER,),
    )
    return None if row is None else Holder(*row)


def _trials(cursor: Cursor, where: str, params: tuple[Any, ...] = ()) -> list[Trial]:
    cursor.execute(f"SELECT {_COLUMNS} FROM trials {where}", params)
    return [_trial(row) for row in cursor.fetchall()]


def _trial(row: Any) -> Trial:
    (number, run_id, state, params, started_at, ended_at, pid, exit_code, error, run_dir, history, summary,
     artifacts, metric_value, metric_imputed, requeued, agent, host, stop_requested, decided, _rev,
     retried) = row  # fmt: skip
    return Trial(
        number=number,
        run_id=run_id,
        state=TrialState(state),
        params=json.loads(params),
        started_at=started_at,
        ended_at=ended_at,
        exit_code=exit_code,
        error=error,
        run_dir=None if run_dir is None else Path(run_dir),
        history=json.loads(history),
        summary=json.loads(summary),
        artifacts=json.loads(artifacts),
        metric_value=metric_value,
        metric_imputed=bool(metric_imputed),
        requeued=bool(requeued),
        pid=pid,
        agent=agent,
        host=host,
        stop_requested=bool(stop_requested),
        decided=int(decided),
        retried=bool(retried),
    )
