"""A sweep's record, read-only: what ``status``, ``best``, the report and a dashboard may call.

Readers import :class:`SweepView` and nothing they hold can write; the processes that run a sweep import
:class:`~localsweep.storage.store.SweepStore`, a view that also writes (fenced). Stored in SQLite
(``<root>/<name>/sweep.db``, the default) or PostgreSQL (``--storage postgresql://...``, for agents on many hosts):
``localsweep/storage/database.py`` hides which.

Public API (stable, used by the analysis package)::

    view = SweepView.connect(find_sweep("grid-20250101-120000"))   # or SweepView.open(sweep_directory)
    view.name, view.sweep_id, view.config, view.metric_name, view.goal
    view.trials()        # list[Trial], in start order
    view.best_trial()    # Trial | None: the best finished/stopped trial by the sweep metric
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from contract.objectives import DEFAULT_GOAL, primary
from localsweep.core import trial as trial_module
from localsweep.core.trial import Trial, TrialState
from localsweep.storage import lease, schema
from localsweep.storage.database import (
    Cursor,
    Database,
    DatabaseUnavailableError,
    SqliteDatabase,
    is_postgres,
    open_database,
    sweep_names,
)
from localsweep.storage.layout import DB_NAME, SweepLayout
from localsweep.storage.lease import Holder

DEFAULT_ROOT = Path("offline_sweeps")
STORAGE_VAR = "LOCALSWEEP_STORAGE"
CONTROLLER = "controller"
"""The name of the controller's row in the ``lease`` table."""
_COLUMNS = (
    "number, run_id, state, params, started_at, ended_at, pid, exit_code, error, run_dir, history, summary, "
    "artifacts, metric_value, metric_imputed, requeued, agent, host, stop_requested, decided, rev, retried"
)
View = TypeVar("View", bound="SweepView")
__all__ = ["DatabaseUnavailableError", "Location", "SweepView", "default_storage", "find_sweep", "sweep_locations"]


def default_storage() -> str | None:
    """Where sweeps are recorded unless said otherwise: ``$LOCALSWEEP_STORAGE`` (a PostgreSQL URL), else None
    (a SQLite file in each sweep's folder)."""
    return os.environ.get(STORAGE_VAR) or None


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
        stores = [SweepView.connect(Location(n, root, storage)) for n in names]
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


class SweepView:
    """One sweep's record, read-only; :meth:`connect` (or :meth:`open`) an existing one."""

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
        self.goal: str = DEFAULT_GOAL if metric is None else metric.goal

    @classmethod
    def open(cls: type[View], path: Path) -> View:
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
    def connect(cls: type[View], location: Location) -> View:
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

    def describe(self) -> str:
        """Where the record is stored."""
        return self._db.describe()

    def seen(self, heartbeat_at: float) -> float:
        """When a process last proved it was alive, as far as this store can tell: its heartbeat, or the moment the
        database came back after being unreachable (nobody could heartbeat meanwhile), whichever is later."""
        return max(heartbeat_at, self._db.reconnected_at or 0.0)

    def controller(self) -> tuple[Holder | None, str | None]:
        """The controller holding the sweep and, when it is dead, why (``(None, None)``: nobody holds it)."""
        holder = self._db.read(holder_of)
        return holder, None if holder is None else lease.dead_because(self._judged(holder), time.time())

    def _judged(self, holder: Holder) -> Holder:
        return dataclasses.replace(holder, heartbeat_at=self.seen(holder.heartbeat_at))

    def trials(self) -> list[Trial]:
        """Every trial, in the order they were suggested."""
        return self._db.read(lambda c: read_trials(c, "ORDER BY number"))

    def trial(self, run_id: str) -> Trial:
        """The trial with this run id.

        Raises
        ------
        KeyError
            When the sweep has no such trial.
        """
        found = self._db.read(lambda c: read_trials(c, "WHERE run_id = ?", (run_id,)))
        if not found:
            raise KeyError(f"sweep {self.name} has no trial {run_id!r}")
        return found[0]

    def changed_since(self, rev: int) -> tuple[list[Trial], int]:
        """The trials changed after revision ``rev``, and the newest revision (read only what changed)."""

        def read(cursor: Cursor) -> tuple[list[Trial], int]:
            cursor.execute("SELECT value FROM meta WHERE key = 'rev'")
            row = cursor.fetchone()
            # Ordered by rev, not number: SQLite then reads the rev index alone, where ORDER BY number made it scan
            # every trial (30 ms per call at 10,000 trials). The few changed ones are put in number order here.
            changed = read_trials(cursor, "WHERE rev > ? ORDER BY rev", (rev,))
            return sorted(changed, key=lambda t: t.number), int(row[0]) if row else 0

        return self._db.read(read)

    def best_trial(self) -> Trial | None:
        """The finished or stopped trial with the best (not imputed) sweep metric, or None."""
        return trial_module.best(self.goal, self.trials())

    def ended(self) -> dict[str, Any] | None:
        """Why the sweep was stopped (``reason``, ``exit_code``, ``interrupt``), or None while it goes on."""
        value = self._db.read(lambda c: meta(c, "ended"))
        return None if value is None else dict(json.loads(value))

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

    @property
    def wandb_sweep(self) -> dict[str, Any] | None:
        """The W&B sweep ``sync`` made of this sweep: ``{"path": "ENTITY/PROJECT/ID", "run_ids": [...]}``, or None."""
        value = self._db.read(lambda c: meta(c, "wandb_sweep"))
        return None if value is None else dict(json.loads(value))

    def uploaded(self) -> list[str]:
        """The run ids ``sync`` has uploaded so far (on any host)."""
        value = self._db.read(lambda c: meta(c, "uploaded"))
        return [] if value is None else list(json.loads(value))

    def read_file(self, run_id: str, name: str) -> bytes | None:
        """A trial's output file kept in the database (:meth:`SweepStore.store_file`), or None."""
        row = self._db.read(lambda c: _one(c, "SELECT data FROM files WHERE run_id = ? AND name = ?", (run_id, name)))
        return None if row is None else zlib.decompress(bytes(row[0]))


def _all(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _one(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()


def meta(cursor: Cursor, key: str) -> str | None:
    """One value of the ``meta`` table, or None."""
    row = _one(cursor, "SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def holder_of(cursor: Cursor) -> Holder | None:
    """The controller's lease as stored, or None."""
    row = _one(
        cursor,
        "SELECT token, host, pid, pid_started, acquired_at, heartbeat_at FROM lease WHERE name = ?",
        (CONTROLLER,),
    )
    return None if row is None else Holder(*row)


def read_trials(cursor: Cursor, where: str, params: tuple[Any, ...] = ()) -> list[Trial]:
    """The trials a ``WHERE``/``ORDER BY`` clause selects."""
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
