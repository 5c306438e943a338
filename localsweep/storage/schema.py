"""The tables of a sweep, the same in SQLite and PostgreSQL, and the one path that upgrades an older store.

``meta`` holds the sweep (name, id, config, settings) and ``schema_version``; ``trials`` every trial; ``lease`` the
controller role; ``agents`` the processes that run trials; ``files`` small outputs of finished trials (the
predictions table) so that any host that reaches the database can report on them.

Types are the ones both databases read the same way: ``DOUBLE PRECISION`` (SQLite takes it as REAL; PostgreSQL's
``REAL`` would be 4 bytes, too few for a timestamp), ``INTEGER``, ``TEXT`` (JSON inside), and ``BLOB``/``BYTEA``.
"""

from __future__ import annotations

from localsweep.storage.database import Cursor, Database, PostgresDatabase

SCHEMA_VERSION = 4

_TRIALS_V1 = """CREATE TABLE trials (
    number INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    pid INTEGER,
    exit_code INTEGER,
    error TEXT,
    run_dir TEXT,
    history TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL DEFAULT '{}',
    artifacts TEXT NOT NULL DEFAULT '[]',
    metric_value DOUBLE PRECISION,
    metric_imputed INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0
)"""
_LEASE = """CREATE TABLE lease (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started TEXT,
    acquired_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL
)"""
# Version 3: many agents. A trial is first `pending` (suggested, not yet taken), then taken by one agent (`agent`,
# `host`); `stop_requested` and `decided` carry early termination's decisions to that agent; `rev` numbers every
# change so a reader can fetch only what changed.
_V3 = [
    "ALTER TABLE trials ADD COLUMN agent TEXT",
    "ALTER TABLE trials ADD COLUMN host TEXT",
    "ALTER TABLE trials ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE trials ADD COLUMN decided INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE trials ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX trials_by_rev ON trials (rev)",
    "CREATE INDEX trials_by_state ON trials (state)",
    """CREATE TABLE agents (
        agent_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_started TEXT,
        workdir TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL,
        slots INTEGER NOT NULL,
        idle INTEGER NOT NULL,
        left_at DOUBLE PRECISION
    )""",
    """CREATE TABLE files (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data {blob} NOT NULL,
        PRIMARY KEY (run_id, name)
    )""",
]
# Version 4: `retried` marks a crashed trial whose parameters `resume --retry-crashed` runs again.
_V4 = ["ALTER TABLE trials ADD COLUMN retried INTEGER NOT NULL DEFAULT 0"]
# MIGRATIONS[v]: the statements that bring a version-v store to v + 1 (version 1: every store made before the
# controller lease; 2: before agents; 3: before retries).
MIGRATIONS = {1: [_LEASE], 2: _V3, 3: _V4}


def statements(db: Database) -> list[str]:
    """Every statement that creates a store of the current version from nothing."""
    found = ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", _TRIALS_V1]
    for version in range(1, SCHEMA_VERSION):
        found += MIGRATIONS[version]
    blob = "BYTEA" if isinstance(db, PostgresDatabase) else "BLOB"
    return [s.replace("{blob}", blob) for s in found]


def version(cursor: Cursor) -> int:
    """The store's schema version (1 for stores written before it was recorded)."""
    cursor.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    row = cursor.fetchone()
    return 1 if row is None else int(row[0])


def migrate(db: Database) -> None:
    """Bring the store up to :data:`SCHEMA_VERSION`, one version per transaction (another process may race us:
    each step checks the version inside its transaction).

    Raises
    ------
    RuntimeError
        When the store is newer than this code.
    """

    def step(cursor: Cursor) -> bool:
        current = version(cursor)
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"this sweep's store has schema version {current}, newer than this localsweep's ({SCHEMA_VERSION}): "
                "upgrade localsweep to use it"
            )
        if current == SCHEMA_VERSION:
            return False
        blob = "BYTEA" if isinstance(db, PostgresDatabase) else "BLOB"
        for statement in MIGRATIONS[current]:
            cursor.execute(statement.replace("{blob}", blob))
        cursor.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(current + 1),),
        )
        return True

    if db.read(version) == SCHEMA_VERSION:  # the usual case costs one read, no write lock
        return
    while db.transaction(step):
        pass
