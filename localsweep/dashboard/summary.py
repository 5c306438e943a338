"""What a sweep is and where it stands: its search, its state (running, or ended and why), its trials by state, the
best so far, the controller and the agents with their hosts and last heartbeats."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

from contract.objectives import objectives
from localsweep.core.trial import Trial, TrialState
from localsweep.storage import lease
from localsweep.storage.view import AgentInfo, SweepView


def about(view: SweepView) -> dict[str, Any]:
    """What does not change while the sweep runs: its name, search, objectives, parameters, where it is kept."""
    parameters = view.config.get("parameters", {})
    return {
        "name": view.name,
        "sweep_id": view.sweep_id,
        "method": view.config.get("method"),
        "objectives": [dataclasses.asdict(o) for o in objectives(view.config)],
        "early_terminate": (view.config.get("early_terminate") or {}).get("type"),
        "parameters": sorted(parameters) if isinstance(parameters, dict) else [],
        "source": view.source,
        "directory": str(view.directory),
        "store": view.describe(),  # never a password
        "created_at": view.created_at,
    }


def state(view: SweepView, counts: Counter[TrialState], requeued: int, leader: Trial | None) -> dict[str, Any]:
    """Where the sweep stands now; ``counts`` are its trials by state (those out of the search, ``requeued``,
    apart) and ``leader`` its best trial so far."""
    now = time.time()
    holder, dead = view.controller()
    agents = [_agent(view, a, now) for a in view.agents()]
    ended = view.ended()
    alive = (holder is not None and dead is None) or any(a["alive"] for a in agents)
    return {
        "now": now,
        "status": "ended" if ended is not None else "running" if alive else "idle",
        "ended": ended,
        "counts": {str(k): n for k, n in counts.items() if n},
        "requeued": requeued,
        "best": None
        if leader is None
        else {"number": leader.number, "run_id": leader.run_id, "value": leader.metric_value},
        "controller": None
        if holder is None
        else {"host": holder.host, "pid": holder.pid, "heartbeat_at": view.seen(holder.heartbeat_at), "dead": dead},
        "agents": agents,
    }


def _agent(view: SweepView, agent: AgentInfo, now: float) -> dict[str, Any]:
    seen = view.seen(agent.heartbeat_at)
    judged = dataclasses.replace(agent.holder(), heartbeat_at=seen)
    dead = None if agent.left_at is not None else lease.dead_because(judged, now)
    return {
        "agent_id": agent.agent_id,
        "host": agent.host,
        "pid": agent.pid,
        "slots": agent.slots,
        "heartbeat_at": seen,
        "left_at": agent.left_at,
        "alive": agent.left_at is None and dead is None,
        "dead": dead,
    }


def same(state: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two :func:`state` readings differ only by the clock.

    >>> same({"now": 1.0, "status": "running"}, {"now": 2.0, "status": "running"})
    True
    """
    return {k: v for k, v in state.items() if k != "now"} == {k: v for k, v in other.items() if k != "now"}
