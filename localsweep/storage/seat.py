"""What one agent writes to its sweep, bound to that agent: its registration, heartbeats and departure, the pending
trials it claims (each goes to exactly one agent), and its running trials' pids and live history — the latter
fenced by ownership: once the sweep gave a trial up, the agent's late writes change nothing."""

from __future__ import annotations

import json
import time
from typing import Any

from localsweep.core.trial import PENDING, RUNNING, Trial
from localsweep.storage.database import Cursor, Database
from localsweep.storage.rows import start, touch
from localsweep.storage.view import AgentInfo, read_trials


class AgentSeat:
    """The writes of ``agent`` to the sweep in ``db``."""

    def __init__(self, db: Database, agent: AgentInfo) -> None:
        self._db = db
        self.agent = agent

    def join(self) -> None:
        """Register the agent (or renew its registration)."""
        agent = self.agent
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

    def heartbeat(self, idle: int) -> None:
        """The agent is alive and would take ``idle`` more trials now."""
        self._db.transaction(
            lambda c: c.execute(
                "UPDATE agents SET heartbeat_at = ?, idle = ? WHERE agent_id = ?",
                (time.time(), idle, self.agent.agent_id),
            )
        )

    def leave(self) -> None:
        """The agent has ended (its trials are recorded)."""
        self._db.transaction(
            lambda c: c.execute(
                "UPDATE agents SET left_at = ?, idle = 0 WHERE agent_id = ?", (time.time(), self.agent.agent_id)
            )
        )

    def claim(self, count: int, known: set[str]) -> list[Trial]:
        """Take up to ``count`` pending trials (each pending trial goes to exactly one agent).

        Safe to repeat: trials this agent already took but does not know of (``known``: those it runs) are
        returned first, so a claim whose answer was lost with the connection is not lost with it.
        """
        agent_id, host = self.agent.agent_id, self.agent.host

        def take(cursor: Cursor) -> list[Trial]:
            mine = read_trials(cursor, "WHERE agent = ? AND state = ?", (agent_id, RUNNING.value))
            lost = [t for t in mine if t.run_id not in known]
            if lost or count <= 0:
                return lost[:count]
            cursor.execute(
                f"SELECT run_id FROM trials WHERE state = ? ORDER BY number LIMIT ?{self._db.skip_locked}",
                (PENDING.value, count),
            )
            run_ids = [row[0] for row in cursor.fetchall()]
            for run_id in run_ids:
                start(cursor, run_id, agent_id, host)
            return [t for run_id in run_ids for t in read_trials(cursor, "WHERE run_id = ?", (run_id,))]

        return self._db.transaction(take)

    def set_pid(self, run_id: str, pid: int) -> None:
        """Remember the process running a trial (so ``resume`` can end an orphan)."""
        self._db.transaction(lambda c: touch(c, "pid = ?", run_id, (pid,)))

    def push_history(self, run_id: str, history: list[dict[str, Any]]) -> None:
        """The history a running trial of this agent has logged so far (early termination reads it from here,
        on any host); ignored once the trial is no longer this agent's running trial."""

        def write(cursor: Cursor) -> None:
            cursor.execute(
                "SELECT 1 FROM trials WHERE run_id = ? AND state = ? AND agent = ?",
                (run_id, RUNNING.value, self.agent.agent_id),
            )
            if cursor.fetchone() is not None:
                touch(cursor, "history = ?", run_id, (json.dumps(history, default=str),))

        self._db.transaction(write)
