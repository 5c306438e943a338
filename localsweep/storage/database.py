"""One interface over the two databases a sweep can live in: SQLite (a file per sweep) and PostgreSQL (many hosts).

Every statement is written once, in the SQL both understand, with ``?`` placeholders; each work unit is a function
run inside one transaction (:meth:`Database.transaction`). What differs is said here and nowhere else:

- SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock, so transactions are serial; WAL lets readers in
  meanwhile; ``synchronous=FULL`` makes each commit durable, so a ``kill -9`` leaves the old or the new state.
- PostgreSQL (psycopg 3): a sweep is a schema (``ls_<name>``) in the database, holding the same tables. Rows are
  locked where SQLite locks the file (``FOR UPDATE SKIP LOCKED`` hands each pending trial to one agent), and a
  connection lost to a restart or a network cut is reopened and the whole transaction run again, for up to
  ``retry_for`` seconds (then :class:`DatabaseUnavailableError`), saying on stderr that it waits. A first
  connection that fails is not retried: a wrong host, port or password is said at once, with the server's reason.
  A process stopped or cut off inside a transaction would keep its row locks for as long as the server believes
  its session alive (TCP keepalive: hours; a stopped process's kernel still answers): the server ends a session
  idle in a transaction for ``idle_for`` seconds (the time after which other hosts judge a silent one dead), and
  the process, back, runs that transaction again.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from localsweep.storage.layout import DB_NAME
from localsweep.storage.lease import STALE_AFTER_S

T = TypeVar("T")
SCHEMA_PREFIX = "ls_"
_RETRY_FIRST_S, _RETRY_MAX_S = 0.2, 5.0
_SAY_EVERY_S = 10.0


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached: never (a first connection failed), or for longer than the retry window."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Cursor(Protocol):
    """What a work unit gets: DB-API 2.0, ``?`` placeholders."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database(ABC):
    """A connection to the database holding one sweep."""

    skip_locked = ""
    """Appended to a ``SELECT`` of pending trials: rows another agent is claiming are skipped, not waited for."""
    reconnected_at: float | None = None
    """When the connection last came back after the database was unreachable (``time.time()``), else None: no
    process could write while it was gone, so heartbeats older than this say nothing about their writers."""
    share_lock = ""
    """Appended to the ``SELECT`` of the lease in a write: the lease cannot change until this transaction ends."""

    @abstractmethod
    def transaction(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` in one write transaction: all of it is committed, or none of it."""

    @abstractmethod
    def read(self, work: Callable[[Cursor], T]) -> T:
        """Run ``work`` on one consistent snapshot, writing nothing."""

    @abstractmethod
    def lock(self, cursor: Cursor, table: str) -> None:
        """Inside a transaction: no other writer may change ``table`` until it ends."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether the sweep's tables exist."""

    @abstractmethod
    def create(self, statements: Sequence[str], rows: Callable[[Cursor], None]) -> None:
        """Create the sweep's tables and first rows atomically; raises FileExistsError if they exist."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    def describe(self) -> str:
        """Where the sweep is stored, for people (never with a password)."""


class SqliteDatabase(Database):
    """The sweep's own ``sweep.db`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self._connect(self.path)
        return self._connection

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def transaction(self, work: Callable[[Cursor], T]) -> T:
        with _sqlite_transaction(self._db, "BEGIN IMMEDIATE"):
            return work(self._db.cursor())

    def read(self, work: Callable[[Cursor], T]) -> T:
        with _sqlite_transaction(self._db, "BEGIN"):
            return work(self._db.cursor())

    def lock(self, cursor: Cursor, table: str) -> None:
        pass  # BEGIN IMMEDIATE already holds the whole file's write lock

    def exists(self) -> bool:
        return self.path.is_file()

    def create(self, statements: Sequence[str], rows: Callable[[Cursor], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raise FileExistsError(f"a sweep already exists in {self.path.parent}")
        # Built aside, then moved in whole: a controller killed while creating leaves no half-made store that
        # `run` would refuse to overwrite and `resume` could not open.
        partial = self.path.with_name(f"{self.path.name}.partial")
        for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            stale.unlink(missing_ok=True)
        db = self._connect(partial)
        with _sqlite_transaction(db, "BEGIN IMMEDIATE"):
            cursor = db.cursor()
            for statement in statements:  # executescript() would COMMIT the open transaction
                cursor.execute(statement)
            rows(cursor)
        db.close()  # the last connection's close folds the WAL into the file
        partial.replace(self.path)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def describe(self) -> str:
        return str(self.path)


@contextmanager
def _sqlite_transaction(db: sqlite3.Connection, begin: str) -> Iterator[None]:
    db.execute(begin)
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class _PgCursor:
    """A psycopg cursor taking ``?`` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())


class PostgresDatabase(Database):
    """Sweep ``name`` as the schema ``ls_<name>`` of the PostgreSQL database at ``url``; ``say`` tells people (by
    default on stderr) that a lost database is being waited for, and when it is back."""

    skip_locked = " FOR UPDATE SKIP LOCKED"
    share_lock = " FOR SHARE"

    def __init__(
        self,
        url: str,
        name: str,
        retry_for: float = 300.0,
        say: Callable[[str], None] = _say,
        idle_for: float = STALE_AFTER_S,
    ) -> None:
        self.url = url
        self.idle_for = idle_for
        self.schema = SCHEMA_PREFIX + name
        self.retry_for = retry_for
        self.say = say  # where the wait for a lost database is told
        self._connection: Any = None
        self._reached = False

    def _connect(self) -> Any:
        connection = _connect(self.url)
        connection.execute(f'SET search_path TO "{self.schema}"')
        connection.execute(f"SET idle_in_transaction_session_timeout = {max(1, round(self.idle_for * 1000))}")
        return connection

    def _run(self, work: Callable[[Cursor], T], begin: str) -> T:
        import psycopg

        deadline, pause = time.monotonic() + self.retry_for, _RETRY_FIRST_S
        lost_at: float | None = None
        said_at = -_SAY_EVERY_S
        while True:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = self._connect()
                    self._reached = True
                    if lost_at is not None:
                        self.reconnected_at = time.time()
                        self.say(f"the database answers again after {time.monotonic() - lost_at:.0f} s")
                        lost_at = None
                with self._connection.cursor() as raw:
                    raw.execute(begin)
                    try:
                        result = work(_PgCursor(raw))
                    except BaseException:
                        if not self._connection.closed:
                            raw.execute("ROLLBACK")
                        raise
                    raw.execute("COMMIT")
                    return result
            except psycopg.errors.IdleInTransactionSessionTimeout:
                # The server ended the session: this process said nothing in its open transaction for idle_for
                # seconds (it was stopped, or cut off), and its locks went to the hosts waiting for them. None of
                # the transaction was committed: run it again on a new connection.
                self.close()
                self.say(
                    f"the database ended this host's transaction after {self.idle_for:g} s without a word from it "
                    "(the process was stopped or cut off): running it again"
                )
            except psycopg.OperationalError as err:
                self.close()
                if not self._reached:
                    # Never reached: a wrong host, port, user or password, or no server there. Waiting would only
                    # hide that for the whole retry window.
                    raise _cannot_connect(self.url, err) from None
                # The server restarted or the network dropped: the transaction did not happen (or, if the COMMIT
                # itself was lost, the work units are written to be safe to run twice). Reconnect and rerun it.
                now = time.monotonic()
                lost_at = now if lost_at is None else lost_at
                if now + pause > deadline:
                    raise DatabaseUnavailableError(
                        f"the sweep's database {self.describe()} has been unreachable for {self.retry_for:g} s: "
                        f"{_reason(self.url, err)}"
                    ) from None
                if now - said_at >= _SAY_EVERY_S:
                    self.say(
                        f"waiting for the database at {_where(self.url)} ({now - lost_at:.0f} s of "
                        f"{self.retry_for:g} s): {_reason(self.url, err)}"
                    )
                    said_at = now
                time.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX_S)

    def transaction(self, work: Callable[[Cursor], T]) -> T:
        return self._run(work, "BEGIN")

    def read(self, work: Callable[[Cursor], T]) -> T:
        return self._run(work, "BEGIN READ ONLY")

    def lock(self, cursor: Cursor, table: str) -> None:
        cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def exists(self) -> bool:
        def found(cursor: Cursor) -> bool:
            cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = ?", (self.schema,))
            return cursor.fetchone() is not None

        return self.read(found)

    def create(self, statements: Sequence[str], rows: Callable[[Cursor], None]) -> None:
        import psycopg

        def create_all(cursor: Cursor) -> None:
            try:
                cursor.execute(f'CREATE SCHEMA "{self.schema}"')
            except psycopg.errors.DuplicateSchema as err:
                raise FileExistsError(f"a sweep already exists in {self.describe()}") from err
            for statement in statements:
                cursor.execute(statement)
            rows(cursor)

        self.transaction(create_all)  # DDL is transactional in PostgreSQL: all of it, or nothing

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def describe(self) -> str:
        return f"postgresql://{_where(self.url)} (schema {self.schema})"


def _info(url: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    return dict(conninfo_to_dict(url))


def _where(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL (never its password)."""
    info = _info(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _reason(url: str, err: Exception) -> str:
    """The server's (or the network's) reason, on one line; the password is masked should libpq ever echo it."""
    text = " ".join(str(err).split())
    password = str(_info(url).get("password") or "")
    return text.replace(password, "***") if password else text


def _connect(url: str) -> Any:
    import psycopg  # an edge: only PostgreSQL sweeps need it

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def _cannot_connect(url: str, err: Exception) -> DatabaseUnavailableError:
    info = _info(url)
    return DatabaseUnavailableError(
        f"cannot connect to the sweep database at {info.get('host', 'localhost')}:{info.get('port', 5432)} "
        f"(database {info.get('dbname', '')!r}, user {info.get('user', '')!r}): {_reason(url, err)}; fix: check the "
        "host, port, user and password of --storage (or $LOCALSWEEP_STORAGE), and that PostgreSQL runs there and "
        "accepts connections from this host"
    )


def sweep_names(url: str) -> list[str]:
    """The sweeps stored in the PostgreSQL database at ``url`` (the schemas named ``ls_<name>``).

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be reached (where, and the server's reason).
    """
    import psycopg

    try:
        connection = _connect(url)
    except psycopg.OperationalError as err:
        raise _cannot_connect(url, err) from None
    with connection:
        rows = connection.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, %s)", (SCHEMA_PREFIX,)
        ).fetchall()
    return sorted(row[0].removeprefix(SCHEMA_PREFIX) for row in rows)


def is_postgres(storage: str | None) -> bool:
    """Whether ``storage`` names a PostgreSQL database (``postgresql://...``)."""
    return storage is not None and storage.startswith(("postgresql://", "postgres://"))


def open_database(storage: str | None, directory: Path, name: str) -> Database:
    """The database of sweep ``name``: ``directory/sweep.db`` when ``storage`` is None, else PostgreSQL.

    Raises
    ------
    ValueError
        When ``storage`` is neither None nor a ``postgresql://`` URL.
    """
    if storage is None:
        return SqliteDatabase(directory / DB_NAME)
    if is_postgres(storage):
        return PostgresDatabase(storage, name)
    raise ValueError(
        f"--storage must be a PostgreSQL URL like postgresql://user@host:5432/dbname, but got {storage!r} "
        "(leave it out for the default: a SQLite file in the sweep's folder)"
    )
