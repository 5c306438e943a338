"""The few SQL writes that the store's writers share: a trial's revision counter, a column change, a trial
taken by an agent, a ``meta`` value. Each runs inside the caller's transaction."""

from __future__ import annotations

import time
from typing import Any

from localsweep.core.trial import RUNNING
from localsweep.storage.database import Cursor


def set_meta(cursor: Cursor, key: str, value: str) -> None:
    """Set one value of the ``meta`` table."""
    cursor.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def next_rev(cursor: Cursor) -> int:
    """The next revision: every changed trial row gets one, so readers can ask for what changed since theirs."""
    # The row lock this UPDATE takes is held to the commit, so revisions become visible in the order they are given.
    cursor.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'rev' RETURNING value")
    row = cursor.fetchone()
    if row is None:  # a store migrated from version 2 has no counter yet
        set_meta(cursor, "rev", "1")
        return 1
    return int(row[0])


def touch(cursor: Cursor, assignment: str, run_id: str, params: tuple[Any, ...] = ()) -> None:
    """Change a trial's columns (``assignment``: ``"pid = ?"``) and give it the next revision."""
    cursor.execute(f"UPDATE trials SET {assignment}, rev = ? WHERE run_id = ?", (*params, next_rev(cursor), run_id))


def start(cursor: Cursor, run_id: str, agent: str | None, host: str) -> None:
    """A pending trial taken by ``agent`` on ``host``: running from now."""
    touch(cursor, "state = ?, agent = ?, host = ?, started_at = ?", run_id, (RUNNING.value, agent, host, time.time()))
