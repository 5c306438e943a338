"""The sweep's PostgreSQL database: a first connection that fails says so at once; a later outage is waited out,
and said so while it lasts.

A wrong port needs no server (nothing listens there). The outage is a real network cut between the client and a
real PostgreSQL server (tests/postgres_server.py): a relay on loopback that drops every connection and stops
accepting new ones until it is restored.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localsweep.storage.database import DatabaseUnavailableError, PostgresDatabase
from tests.conftest import REPO_ROOT
from tests.postgres_server import Server, free_port, relay

PASSWORD = "not-for-the-logs"


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Bounded: before the fix `create`/`run` waited 5 minutes for a server that was never there.
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ["localsweep", "create", "sweep.yaml", "--name", "g"],
        ["localsweep", "run", "sweep.yaml", "--name", "g"],
        ["localsweep", "status", "g"],  # as `agent`, `sync`, `best`: they open the sweep the same way
        ["analysis", "report", "--sweep", "g"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_database_never_reached_is_said_at_once_with_host_port_and_reason(tmp_path, subprocess_env, command):
    (tmp_path / "sweep.yaml").write_text(
        f"program: {REPO_ROOT}/tests/localsweep_programs/echo_config.py\nmethod: grid\n"
        "metric: {name: score, goal: maximize}\nparameters:\n  x: {values: [1]}\n"
    )
    port = free_port()  # nothing listens there
    url = f"postgresql://sweeps:{PASSWORD}@127.0.0.1:{port}/sweeps"
    done = _run([sys.executable, "-m", *command, "--storage", url], subprocess_env, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot connect to the sweep database at 127.0.0.1:{port}" in done.stderr
    assert "Connection refused" in done.stderr  # the server's (here: the network's) reason
    assert "fix: check the host, port, user and password" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_an_outage_after_a_first_connection_is_waited_out_and_said(postgres: Server, capsys):
    with relay(postgres.port) as link:
        db = PostgresDatabase(f"postgresql://{postgres.user}:{PASSWORD}@127.0.0.1:{link.port}/postgres", "s", 30.0)
        assert db.read(lambda cursor: cursor.execute("SELECT 1").fetchone()) == (1,)
        link.cut()
        back = threading.Timer(1.5, link.restore)
        back.start()
        try:
            assert db.read(lambda cursor: cursor.execute("SELECT 2").fetchone()) == (2,)
        finally:
            back.join()
        db.close()
    err = capsys.readouterr().err
    assert f"waiting for the database at 127.0.0.1:{link.port}/postgres (0 s of 30 s)" in err
    assert "the database answers again after" in err
    assert PASSWORD not in err


def test_an_outage_longer_than_the_retry_window_ends_with_the_reason(postgres: Server, capsys):
    with relay(postgres.port) as link:
        db = PostgresDatabase(f"postgresql://{postgres.user}@127.0.0.1:{link.port}/postgres", "s", 1.0)
        db.read(lambda cursor: cursor.execute("SELECT 1"))
        link.cut()
        with pytest.raises(DatabaseUnavailableError, match=r"unreachable for 1 s"):
            db.read(lambda cursor: cursor.execute("SELECT 1"))
    assert "waiting for the database" in capsys.readouterr().err


def test_a_client_stopped_inside_a_transaction_does_not_hold_its_locks_for_ever(postgres_url: str, capsys):
    """A host cut off (or stopped: SIGSTOP, a frozen VM) between two statements of a transaction keeps its row locks
    for as long as the server thinks its session alive: a stopped process's kernel still answers TCP, and a real cut
    is noticed by TCP keepalive after hours. Every other agent waits that long for the lease or a trial. The server
    ends a session idle in its transaction for ``idle_for`` seconds; the stopped client, back, runs its work again."""
    table = ["CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)"]
    PostgresDatabase(postgres_url, "s").create(table, lambda c: c.execute("INSERT INTO t VALUES (1, 0)"))
    stopped, other = (PostgresDatabase(postgres_url, "s", 30.0, idle_for=1.0) for _ in range(2))
    resumed = threading.Event()
    runs: list[str] = []

    def stop_holding_the_row(cursor) -> None:
        cursor.execute("UPDATE t SET v = 1 WHERE k = 1")
        runs.append("stopped")
        resumed.wait()  # the process is stopped here, its transaction open, its row locked

    held = threading.Thread(target=stopped.transaction, args=(stop_holding_the_row,), daemon=True)
    held.start()
    while not runs:
        time.sleep(0.01)
    blocked = threading.Thread(target=other.transaction, args=(lambda c: c.execute("UPDATE t SET v = 2"),))
    blocked.start()
    blocked.join(timeout=20)  # before: for ever (here, until the test's end)
    done_while_stopped = not blocked.is_alive()
    resumed.set()
    held.join(timeout=60)
    assert done_while_stopped
    assert not held.is_alive()
    assert runs == ["stopped", "stopped"]  # the stopped client's transaction was ended, and it ran it again
    assert other.read(lambda c: c.execute("SELECT v FROM t").fetchone()) == (1,)
    err = capsys.readouterr().err
    assert "the database ended this host's transaction after 1 s without a word from it" in err
    assert "Traceback" not in err
    stopped.close()
    other.close()
