"""Trials made by hand for the search's unit tests: a finished, running or crashed trial with a plain config; and
a trial put into a real store as a sweep would (suggested, then taken by an agent)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from localsweep.core.trial import FINISHED, Trial, TrialState
from localsweep.storage import lease
from localsweep.storage.store import AgentInfo, SweepStore


def trial(
    number: int,
    state: TrialState = FINISHED,
    config: dict[str, Any] | None = None,
    history: Iterable[dict[str, Any]] = (),
    summary: dict[str, Any] | None = None,
    score: float | None = None,
) -> Trial:
    """Trial ``number`` (run id ``run<number>``) with ``config`` as its parameters; ``score`` is both its
    summary ``score`` and its metric value."""
    summary = {**(summary or {}), **({} if score is None else {"score": score})}
    return Trial(
        number=number,
        run_id=f"run{number}",
        state=state,
        params={k: {"value": v} for k, v in (config or {}).items()},
        started_at=0.0,
        ended_at=None,
        exit_code=None,
        error=None,
        run_dir=None,
        history=list(history),
        summary=summary,
        artifacts=[],
        metric_value=score,
        metric_imputed=False,
        requeued=False,
        pid=None,
    )


def start_trial(store: SweepStore, run_id: str, params: dict[str, Any]) -> int:
    """Record a trial as the controller suggests it (fenced: ``store`` must hold the lease) and as an agent of its
    own then takes it; returns its number."""
    number = store.add_pending(run_id, params)
    now = time.time()
    agent = AgentInfo(f"test-{run_id}", lease.hostname(), os.getpid(), None, ".", now, now, 1, 0, None)
    assert [t.run_id for t in store.seat(agent).claim(1, set())] == [run_id]
    return number
