"""One controller per sweep (localsweep/storage/lease.py, the store's lease): refused while alive, taken over when
dead."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localsweep.storage import lease, schema
from localsweep.storage.lease import Holder, LeaseLostError, SweepBusyError
from localsweep.storage.store import SCHEMA_VERSION, SweepStore
from tests.trials import start_trial

pytestmark = pytest.mark.sqlite_only  # edits the lease row with sqlite3, as another process would

CONFIG = {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}


def new_store(tmp_path: Path) -> SweepStore:
    return SweepStore.create(tmp_path / "s", name="s", sweep_id="sid", config=CONFIG, source="t.yaml", settings={})


def set_holder(store_dir: Path, **fields: object) -> None:
    """Write the lease row as another controller would have left it."""
    db = sqlite3.connect(store_dir / "sweep.db")
    assignments = ", ".join(f"{k} = ?" for k in fields)
    db.execute(f"UPDATE lease SET {assignments}", tuple(fields.values()))
    db.commit()
    db.close()


def test_a_second_controller_is_refused_while_the_first_lives(tmp_path: Path) -> None:
    first = new_store(tmp_path)
    assert first.acquire_lease() is None
    second = SweepStore.open(tmp_path / "s")
    with pytest.raises(SweepBusyError, match=r"sweep s is being run by another controller \(pid \d+ on host "):
        second.acquire_lease()
    with pytest.raises(LeaseLostError):  # and without the lease it cannot write
        second.add_pending("r1", {"x": {"value": 1}})
    start_trial(first, "r1", {"x": {"value": 1}})
    first.release_lease()
    assert second.acquire_lease() is None  # given back: free to take


def test_a_dead_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    store.acquire_lease()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    set_holder(tmp_path / "s", pid=int(gone.stdout))
    taken = SweepStore.open(tmp_path / "s").acquire_lease()
    assert taken is not None
    assert taken[1] == f"its process {int(gone.stdout)} is gone"
    with pytest.raises(LeaseLostError, match="now held by another controller"):
        store.heartbeat()  # the one taken over finds out at its next write


def test_a_reused_pid_is_not_mistaken_for_the_holder(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    store.acquire_lease()
    set_holder(tmp_path / "s", pid_started="1")  # this pid, but a process that started at another time
    taken = SweepStore.open(tmp_path / "s").acquire_lease()
    assert taken is not None
    assert "the pid now belongs to another process" in taken[1]


def test_another_hosts_controller_is_refused_until_its_heartbeat_is_stale(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    store.acquire_lease()
    set_holder(tmp_path / "s", host="gpu-node-7", pid=1, heartbeat_at=time.time() - 5)
    with pytest.raises(SweepBusyError, match="pid 1 on host gpu-node-7, heartbeat 5 s ago"):
        SweepStore.open(tmp_path / "s").acquire_lease()
    set_holder(tmp_path / "s", heartbeat_at=time.time() - lease.STALE_AFTER_S - 5)
    taken = SweepStore.open(tmp_path / "s").acquire_lease()
    assert taken is not None
    assert taken[1].startswith("no heartbeat from host gpu-node-7 for 35 s")


def test_controller_reports_alive_dead_or_none(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    assert store.controller() == (None, None)
    store.acquire_lease()
    holder, dead = store.controller()
    assert isinstance(holder, Holder)
    assert dead is None
    set_holder(tmp_path / "s", host="elsewhere", heartbeat_at=0.0)
    _, dead = store.controller()
    assert dead is not None
    assert dead.startswith("no heartbeat from host elsewhere")


def test_a_store_of_the_first_version_is_migrated_on_open(tmp_path: Path) -> None:
    # Version 1 (what the first release wrote): meta and trials, no lease, no agents, no schema_version.
    (tmp_path / "old").mkdir()
    db = sqlite3.connect(tmp_path / "old" / "sweep.db")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(schema._TRIALS_V1)
    meta = {"name": "old", "sweep_id": "x", "created_at": "0", "config": json.dumps(CONFIG), "source": "s"}
    db.executemany("INSERT INTO meta VALUES (?, ?)", [*meta.items(), ("settings", "{}")])
    db.execute("INSERT INTO trials (number, run_id, state, params, started_at) VALUES (1, 'r1', 'finished', '{}', 0)")
    db.commit()
    db.close()
    store = SweepStore.open(tmp_path / "old")
    assert store.acquire_lease() is None
    (trial,) = store.trials()
    assert (trial.run_id, trial.state, trial.agent) == ("r1", "finished", None)
    version = sqlite3.connect(tmp_path / "old" / "sweep.db").execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    )
    assert int(version.fetchone()[0]) == SCHEMA_VERSION
