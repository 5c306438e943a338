"""Trials made by hand for the search's unit tests: a finished, running or crashed trial with a plain config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localsweep.core.trial import FINISHED, Trial, TrialState


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
