"""The durable record of one offline sweep: ``<root>/<sweep-name>/sweep.db`` (SQLite, WAL).

Every state change is one transaction with ``synchronous=FULL``, so a ``kill -9`` of the controller at any
moment leaves either the old or the new state, never half of one. Readers (``status``, ``best``, the
analysis package) can open the file while a sweep runs. Writers hold the sweep's lease (``localsweep/lease.py``):
each write checks, in its own transaction, that the lease is still theirs.

Public API (stable, used by the analysis package)::

    store = SweepStore.open(locate_sweep("grid-20250101-120000"))   # or a sweep directory / sweep.db path
    store.name, store.sweep_id, store.config, store.metric_name, store.goal
    store.trials()        # list[Trial], in start order
    store.best_trial()    # Trial | None: the best finished/stopped trial by the sweep metric
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localsweep import lease
from localsweep import trial as trial_module
from localsweep.layout import DB_NAME, SweepLayout
from localsweep.lease import Holder, LeaseLostError, SweepBusyError
from localsweep.trial import RUNNING, Trial, TrialState

DEFAULT_ROOT = Path("offline_sweeps")
# The schema's version (PRAGMA user_version); _MIGRATIONS[v] brings a version-v store to v + 1.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    pid INTEGER,
    exit_code INTEGER,
    error TEXT,
    run_dir TEXT,
    history TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL DEFAULT '{}',
    artifacts TEXT NOT NULL DEFAULT '[]',
    metric_value REAL,
    metric_imputed INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started TEXT,
    acquired_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
"""
_MIGRATIONS = {
    # Version 1 (every store made before the controller lease) has no lease table.
    1: _SCHEMA.split(";")[2],
}
_CONTROLLER = "controller"


def locate_sweep(name: str | None = None, root: Path = DEFAULT_ROOT) -> Path:
    """The directory of sweep ``name`` under ``root``; without a name, the most recently created sweep.

    Raises
    ------
    FileNotFoundError
        When there is no such sweep (the message lists the sweeps that exist).
    """
    sweeps = sorted(root.glob(f"*/{DB_NAME}")) if root.is_dir() else []
    if name is None and sweeps:
        return max((p.parent for p in sweeps), key=lambda d: SweepStore.open(d).created_at)
    if name is not None and (root / name / DB_NAME).is_file():
        return root / name
    if name is None:
        raise FileNotFoundError(
            f"no sweep under {root}/ yet: start one with `python -m localsweep run SWEEP.yaml`, or pass --root"
        )
    known = ", ".join(sorted(p.parent.name for p in sweeps)) or "none"
    raise FileNotFoundError(f"sweep {name!r} not found under {root}/ (sweeps there: {known}); pass --root or a name")


class SweepStore:
    """A sweep's SQLite store; create it with :meth:`create`, open an existing one with :meth:`open`.

    Reading needs nothing; writing trials needs the sweep's lease (:meth:`acquire_lease`).
    """

    def __init__(self, connection: sqlite3.Connection, directory: Path) -> None:
        self._db = connection
        self.directory = directory
        self.layout = SweepLayout(directory)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        self.name: str = meta["name"]
        self.sweep_id: str = meta["sweep_id"]
        self.created_at = float(meta["created_at"])
        self.config: dict[str, Any] = json.loads(meta["config"])
        self.source: str = meta["source"]
        self.settings: dict[str, Any] = json.loads(meta["settings"])
        metric = self.config.get("metric") or {}
        self.metric_name: str | None = metric.get("name")
        self.goal: str = metric.get("goal", "minimize")
        self._token: str | None = None

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

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
    ) -> SweepStore:
        """Create ``directory/sweep.db`` for a new sweep; refuses to overwrite an existing one.

        ``settings`` are the run options ``resume`` must reuse (seed, function, working directory).
        """
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / DB_NAME).exists():
            raise FileExistsError(
                f"a sweep already exists in {directory}: continue it with `python -m localsweep resume {name}` "
                f"or choose another --name"
            )
        # Built aside, then moved in whole: a controller killed while creating leaves no half-made store that
        # `run` would refuse to overwrite and `resume` could not open.
        partial = directory / f"{DB_NAME}.partial"
        for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            stale.unlink(missing_ok=True)
        db = cls._connect(partial)
        meta = {
            "name": name,
            "sweep_id": sweep_id,
            "created_at": repr(time.time()),
            "source": source,
            "config": json.dumps(config),
            "settings": json.dumps(settings),
        }
        with _transaction(db):
            for statement in _SCHEMA.split(";")[:-1]:  # executescript() would COMMIT the open transaction
                db.execute(statement)
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.close()  # the last connection's close folds the WAL into the file
        partial.replace(directory / DB_NAME)
        return cls.open(directory)

    @classmethod
    def open(cls, path: Path) -> SweepStore:
        """Open an existing sweep from its directory or its ``sweep.db`` file (older versions are migrated)."""
        path = Path(path)
        db_path = path if path.suffix == ".db" else path / DB_NAME
        if not db_path.is_file():
            raise FileNotFoundError(f"no sweep store at {db_path}: is {path} a sweep directory?")
        db = cls._connect(db_path)
        _migrate(db)
        return cls(db, db_path.parent)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # -- the controller's lease -------------------------------------------------------------------------------

    def acquire_lease(self) -> tuple[Holder, str] | None:
        """Become this sweep's one controller; returns the dead holder taken over and why it is dead, if any.

        Raises
        ------
        SweepBusyError
            When a live controller holds the sweep.
        """
        me, now = lease.this_process(), time.time()
        with _transaction(self._db):
            holder = self._holder()
            why = None if holder is None else lease.dead_because(holder, now)
            if holder is not None and why is None:
                raise SweepBusyError(
                    f"sweep {self.name} is being run by another controller ({holder.describe(now)}): "
                    f"stop it first, or wait for it to end; `python -m localsweep status {self.name}` shows it"
                )
            self._db.execute(
                "INSERT OR REPLACE INTO lease VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_CONTROLLER, me.token, me.host, me.pid, me.pid_started, me.acquired_at, me.heartbeat_at),
            )
        self._token = me.token
        return None if holder is None or why is None else (holder, why)

    def heartbeat(self) -> None:
        """Renew the lease.

        Raises
        ------
        LeaseLostError
            When another controller took the sweep over.
        """
        with self._write():
            self._db.execute("UPDATE lease SET heartbeat_at = ? WHERE token = ?", (time.time(), self._token))

    def release_lease(self) -> None:
        """Give the sweep back (a no-op when it is not ours). Best effort: when the store cannot be written (a full
        disk), the lease stays, and the next controller takes it over once this process has ended."""
        if self._token is not None:
            with contextlib.suppress(sqlite3.Error), _transaction(self._db):
                self._db.execute("DELETE FROM lease WHERE token = ?", (self._token,))
            self._token = None

    def controller(self) -> tuple[Holder | None, str | None]:
        """The controller holding the sweep and, when it is dead, why (``(None, None)``: nobody holds it)."""
        holder = self._holder()
        return holder, None if holder is None else lease.dead_because(holder, time.time())

    def _holder(self) -> Holder | None:
        row = self._db.execute(
            "SELECT token, host, pid, pid_started, acquired_at, heartbeat_at FROM lease WHERE name = ?", (_CONTROLLER,)
        ).fetchone()
        return None if row is None else Holder(*row)

    # -- trials -----------------------------------------------------------------------------------------------

    def trials(self) -> list[Trial]:
        """Every trial, in the order they were started."""
        return self._select("ORDER BY number")

    def trial(self, run_id: str) -> Trial:
        """The trial with this run id.

        Raises
        ------
        KeyError
            When the sweep has no such trial.
        """
        found = self._select("WHERE run_id = ?", (run_id,))
        if not found:
            raise KeyError(f"sweep {self.name} has no trial {run_id!r}")
        return found[0]

    def best_trial(self) -> Trial | None:
        """The finished or stopped trial with the best (not imputed) sweep metric, or None."""
        return trial_module.best(self.goal, self.trials())

    def add_trial(self, run_id: str, params: dict[str, Any]) -> int:
        """Record a trial as running; returns its number."""
        with self._write():
            cursor = self._db.execute(
                "INSERT INTO trials (run_id, state, params, started_at) VALUES (?, ?, ?, ?)",
                (run_id, RUNNING, json.dumps(params), time.time()),
            )
        return int(cursor.lastrowid or 0)

    def set_pid(self, run_id: str, pid: int) -> None:
        """Remember the process running a trial (so ``resume`` can end an orphan)."""
        self._update(run_id, pid=pid)

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
    ) -> None:
        """Record how a trial ended, everything in one transaction."""
        self._update(
            run_id,
            state=state.value,
            requeued=int(requeued),
            ended_at=time.time(),
            exit_code=exit_code,
            error=error,
            run_dir=None if run_dir is None else str(run_dir),
            history=json.dumps(history, default=str),
            summary=json.dumps(summary, default=str),
            artifacts=json.dumps(artifacts),
            metric_value=metric_value if metric_value is None or math.isfinite(metric_value) else None,
            metric_imputed=int(metric_imputed),
        )

    @property
    def wandb_sweep(self) -> dict[str, Any] | None:
        """The W&B sweep ``sync`` made of this sweep: ``{"path": "ENTITY/PROJECT/ID", "run_ids": [...]}``, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'wandb_sweep'").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def record_wandb_sweep(self, path: str, run_ids: list[str]) -> None:
        """Remember the W&B sweep that holds the uploaded runs."""
        with self._write():
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('wandb_sweep', ?)",
                (json.dumps({"path": path, "run_ids": run_ids}),),
            )

    def update_settings(self, **changes: Any) -> None:
        """Change stored run options (``resume --trial-timeout`` replaces the one given to ``run``)."""
        self.settings = {**self.settings, **changes}
        with self._write():
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(self.settings),))

    def _select(self, where: str, parameters: tuple[Any, ...] = ()) -> list[Trial]:
        cursor = self._db.execute(f"SELECT * FROM trials {where}", parameters)
        names = [c[0] for c in cursor.description]
        return [_trial(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def _update(self, run_id: str, **columns: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in columns)
        with self._write():
            self._db.execute(f"UPDATE trials SET {assignments} WHERE run_id = ?", (*columns.values(), run_id))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction that first proves this store still holds the lease (fencing a taken-over one)."""
        with _transaction(self._db):
            holder = self._holder()
            if self._token is None or holder is None or holder.token != self._token:
                now = time.time()
                by = "nobody" if holder is None else f"another controller ({holder.describe(now)})"
                raise LeaseLostError(f"sweep {self.name} is now held by {by}: this controller stops writing")
            yield


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a store made by an older version up to :data:`SCHEMA_VERSION`, one step per transaction."""
    while (version := db.execute("PRAGMA user_version").fetchone()[0] or 1) < SCHEMA_VERSION:
        with _transaction(db):
            if db.execute("PRAGMA user_version").fetchone()[0] in (0, version):  # another process may have won
                db.execute(_MIGRATIONS[version])
                db.execute(f"PRAGMA user_version = {version + 1}")
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"this sweep store has schema version {version}, newer than this localsweep's ({SCHEMA_VERSION}): "
            "upgrade localsweep to read it"
        )


def _trial(row: dict[str, Any]) -> Trial:
    return Trial(
        number=row["number"],
        run_id=row["run_id"],
        state=TrialState(row["state"]),
        params=json.loads(row["params"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        exit_code=row["exit_code"],
        error=row["error"],
        run_dir=None if row["run_dir"] is None else Path(row["run_dir"]),
        history=json.loads(row["history"]),
        summary=json.loads(row["summary"]),
        artifacts=json.loads(row["artifacts"]),
        metric_value=row["metric_value"],
        metric_imputed=bool(row["metric_imputed"]),
        requeued=bool(row["requeued"]),
        pid=row["pid"],
    )
