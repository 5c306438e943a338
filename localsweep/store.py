"""The durable record of one offline sweep: ``<root>/<sweep-name>/sweep.db`` (SQLite, WAL).

Every state change is one transaction with ``synchronous=FULL``, so a ``kill -9`` of the controller at any
moment leaves either the old or the new state, never half of one. Readers (``status``, ``best``, the
analysis package) can open the file while a sweep runs.

Public API (stable, used by the analysis package)::

    store = SweepStore.open(locate_sweep("grid-20250101-120000"))   # or a sweep directory / sweep.db path
    store.name, store.sweep_id, store.config, store.metric_name, store.goal
    store.trials()        # list[Trial], in start order
    store.best_trial()    # Trial | None: the best finished/stopped trial by the sweep metric
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("offline_sweeps")
DB_NAME = "sweep.db"
# Trial states. "stopped" = ended early by hyperband (its metrics are real); "crashed" = ended with an error or
# was interrupted. W&B's "killed"/"failed" are not used: the store says what happened, the search maps it.
RUNNING, FINISHED, STOPPED, CRASHED = "running", "finished", "stopped", "crashed"

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
"""


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep as stored.

    ``config`` holds plain values (``{"learning_rate": 0.001}``); ``params`` the same in W&B's sweep form
    (``{"learning_rate": {"value": 0.001}}``). ``metric_value`` is the sweep metric (summary value, else the
    best value in the history; imputed per ``metric.impute`` for crashed trials, then ``metric_imputed``).
    ``requeued`` marks a trial interrupted by a controller crash whose grid point was given back to the search.
    """

    number: int
    run_id: str
    state: str
    params: dict[str, Any]
    started_at: float
    ended_at: float | None
    exit_code: int | None
    error: str | None
    run_dir: Path | None
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    artifacts: list[dict[str, Any]]
    metric_value: float | None
    metric_imputed: bool
    requeued: bool
    pid: int | None

    @property
    def config(self) -> dict[str, Any]:
        """The trial's parameters as plain values."""
        return {key: value["value"] for key, value in self.params.items()}

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        return None if self.ended_at is None else self.ended_at - self.started_at


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
    known = ", ".join(sorted(p.parent.name for p in sweeps)) or "none"
    wanted = f"sweep {name!r}" if name else "any sweep"
    raise FileNotFoundError(f"{wanted} not found under {root}/ (sweeps there: {known}); pass --root or a name")


class SweepStore:
    """A sweep's SQLite store; create it with :meth:`create`, open an existing one with :meth:`open`."""

    def __init__(self, connection: sqlite3.Connection, directory: Path) -> None:
        self._db = connection
        self.directory = directory
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
        db.close()  # the last connection's close folds the WAL into the file
        partial.replace(directory / DB_NAME)
        return cls.open(directory)

    @classmethod
    def open(cls, path: Path) -> SweepStore:
        """Open an existing sweep from its directory or its ``sweep.db`` file."""
        path = Path(path)
        db_path = path if path.suffix == ".db" else path / DB_NAME
        if not db_path.is_file():
            raise FileNotFoundError(f"no sweep store at {db_path}: is {path} a sweep directory?")
        return cls(cls._connect(db_path), db_path.parent)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def trials(self) -> list[Trial]:
        """Every trial, in the order they were started."""
        rows = self._db.execute("SELECT * FROM trials ORDER BY number").fetchall()
        names = [c[0] for c in self._db.execute("SELECT * FROM trials LIMIT 0").description]
        return [_trial(dict(zip(names, row, strict=True))) for row in rows]

    def best_trial(self) -> Trial | None:
        """The finished or stopped trial with the best (not imputed) sweep metric, or None."""
        scored = [
            t
            for t in self.trials()
            if t.state in (FINISHED, STOPPED) and t.metric_value is not None and not t.metric_imputed
        ]
        if not scored:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(scored, key=lambda t: t.metric_value or 0.0)

    def add_trial(self, run_id: str, params: dict[str, Any]) -> int:
        """Record a trial as running; returns its number."""
        with _transaction(self._db):
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
        state: str,
        exit_code: int | None,
        error: str | None,
        run_dir: Path | None,
        history: list[dict[str, Any]],
        summary: dict[str, Any],
        artifacts: list[dict[str, Any]],
        metric_value: float | None,
        metric_imputed: bool,
    ) -> None:
        """Record how a trial ended, everything in one transaction (a trial that ended is not re-queued)."""
        self._update(
            run_id,
            state=state,
            requeued=0,
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

    def mark_interrupted(self, requeue: bool) -> list[Trial]:
        """Mark every running trial crashed (the controller died under it); returns them as they were."""
        running = [t for t in self.trials() if t.state == RUNNING]
        with _transaction(self._db):
            self._db.execute(
                "UPDATE trials SET state = ?, ended_at = ?, requeued = ?, "
                "error = 'interrupted: the sweep controller stopped while this trial ran' WHERE state = ?",
                (CRASHED, time.time(), int(requeue), RUNNING),
            )
        return running

    def update_settings(self, **changes: Any) -> None:
        """Change stored run options (``resume --trial-timeout`` replaces the one given to ``run``)."""
        self.settings = {**self.settings, **changes}
        with _transaction(self._db):
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (json.dumps(self.settings),))

    def _update(self, run_id: str, **columns: Any) -> None:
        assignments = ", ".join(f"{column} = ?" for column in columns)
        with _transaction(self._db):
            self._db.execute(f"UPDATE trials SET {assignments} WHERE run_id = ?", (*columns.values(), run_id))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _trial(row: dict[str, Any]) -> Trial:
    return Trial(
        number=row["number"],
        run_id=row["run_id"],
        state=row["state"],
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
