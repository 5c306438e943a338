"""A real PostgreSQL server for the tests: Debian's PostgreSQL (initdb, pg_ctl), started in a temporary folder on
a free port and stopped by the test session. Never a mock of the database.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (``runuser``), otherwise as
the caller.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here (or they cannot run)."""


@dataclass
class Server:
    """A running server: ``url(dbname)`` connects to one of its databases as the superuser, without a password."""

    directory: Path
    port: int
    user: str

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """Stop the server (``-m fast``: sessions are cut) and start it again on the same port."""
        _pg_ctl(self, "stop", "-m", "fast")
        _pg_ctl(self, "start", "-w")

    def stop(self) -> None:
        _pg_ctl(self, "stop", "-m", "fast")

    def start(self) -> None:
        _pg_ctl(self, "start", "-w")


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _pg_ctl(server: Server, *args: str) -> None:
    options = f"-k {server.directory} -p {server.port} -h 127.0.0.1 -c fsync=off -c max_connections=200"
    argv = ["pg_ctl", "-D", str(server.directory / "data"), "-l", str(server.directory / "log"), "-o", options, *args]
    subprocess.run(_as_server_user(argv), check=True, capture_output=True, timeout=120)


def free_port() -> int:
    """A loopback TCP port nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[Server]:
    """Initialise and start a server in a new temporary folder; stop it and remove the folder at the end.

    The folder is made directly in the system's temporary directory: the server's user must be able to reach it,
    and pytest's own temporary folders are private to the user running the tests.

    Raises
    ------
    PostgresUnavailableError
        When ``initdb``/``pg_ctl`` are not installed.
    """
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        raise PostgresUnavailableError("PostgreSQL's initdb and pg_ctl are not on PATH (Debian: postgresql)")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    directory = Path(tempfile.mkdtemp(prefix="localsweep-postgres-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        init = ["initdb", "-D", str(directory / "data"), "-A", "trust", "-U", user, "--no-sync"]
        subprocess.run(_as_server_user(init), check=True, capture_output=True, timeout=120)
        server = Server(directory, free_port(), user)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Relay:
    """A loopback TCP relay to a server's port that can be cut like a network: :meth:`cut` drops every connection
    and refuses new ones until :meth:`restore` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed = [*self._sockets, *([self._listener] if self._listener else [])]
            self._sockets, self._listener = [], None
        for sock in doomed:
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass  # the relay was cut
    finally:
        for sock in (source, sink):
            sock.close()


@contextmanager
def relay(target_port: int) -> Iterator[Relay]:
    """A :class:`Relay` to ``target_port``, listening; cut at the end."""
    link = Relay(target_port)
    link.restore()
    try:
        yield link
    finally:
        link.cut()


@contextmanager
def backend_storage(backend: str) -> Iterator[str | None]:
    """Where a sweep is recorded for the backend named ``backend``: None (``sqlite``: each sweep's own file), or a
    new database in a PostgreSQL server started for the block (``postgresql``)."""
    if backend == "sqlite":
        yield None
        return
    with postgres_server() as server:
        yield server.create_database("bench")
