"""A trial as the page gets it: a compact table row (with its objectives' per-epoch curves), and the full record of
one trial. Plain JSON values only: NaN and ±inf, which JSON cannot carry, become None in numbers meant for charts
and their text (``"nan"``) in records meant to be read."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from contract.objectives import Objective, is_number
from contract.reproduce import flatten
from localsweep.core.trial import Trial


def flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested trial config as one level, nested keys joined by dots (how nested sweep parameters are named).

    >>> flat({"epochs": 3, "optimizer": {"name": "adam", "lr": 0.1}})
    {'epochs': 3, 'optimizer.name': 'adam', 'optimizer.lr': 0.1}
    """
    return {name: readable(value) for name, value in flatten(config, prefix).items()}


def number(value: Any) -> float | None:
    """A finite number for a chart, else None.

    >>> number(0.5), number(float("nan")), number(True), number("1")
    (0.5, None, None, None)
    """
    return float(value) if is_number(value) else None


def readable(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its text, so that strict JSON carries it.

    >>> readable({"loss": float("nan"), "steps": [1, float("inf")], "name": "<b>"})
    {'loss': 'nan', 'steps': [1, 'inf'], 'name': '<b>'}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def curves(goals: Sequence[Objective], history: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Each objective's logged values, epoch by epoch (the history rows that carry a number for it).

    >>> curves([Objective("acc", "maximize")], [{"acc": 0.5}, {"loss": 1.0}, {"acc": 0.7}])
    {'acc': [0.5, 0.7]}
    """
    return {g.name: [float(r[g.name]) for r in history if is_number(r.get(g.name))] for g in goals}


def row(trial: Trial, goals: Sequence[Objective], history: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The table row of ``trial``; ``history``: a longer live history than the stored one (a running trial's).

    ``values`` holds the trial's value on each objective (W&B's reading: summary, else the best logged), ``metric``
    the stored sweep metric (imputed for a crashed trial when ``imputed``), ``epochs`` how many values of the first
    objective it logged.
    """
    history = trial.history if history is None else history
    lines = curves(goals, history)
    first = lines[goals[0].name] if goals else []
    return {
        "number": trial.number,
        "run_id": trial.run_id,
        "state": str(trial.state),
        "requeued": trial.requeued,
        "retried": trial.retried,
        "stop_requested": trial.stop_requested,
        "config": flat(trial.config),
        "metric": number(trial.metric_value),
        "imputed": trial.metric_imputed,
        "values": [number(g.value(trial.summary, history)) for g in goals],
        "curves": lines,
        "epochs": len(first) if goals else len(history),
        "started_at": trial.started_at,
        "ended_at": trial.ended_at,
        "host": trial.host,
        "agent": trial.agent,
        "exit_code": trial.exit_code,
        "error": headline(trial.error),
    }


def headline(error: str | None) -> str | None:
    """The last line of an error (a traceback's exception), at most 200 characters.

    >>> headline("Traceback (most recent call last):\\n  ...\\nRuntimeError: boom"), headline(None)
    ('RuntimeError: boom', None)
    """
    lines = (error or "").strip().splitlines()
    return lines[-1][:200] if lines else error


def record(trial: Trial, history: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Everything recorded about ``trial``, for its own page (``history``: a longer live one, as in :func:`row`)."""
    return readable(
        {
            "number": trial.number,
            "run_id": trial.run_id,
            "state": str(trial.state),
            "config": trial.config,
            "summary": trial.summary,
            "history": list(trial.history if history is None else history),
            "metric_value": trial.metric_value,
            "metric_imputed": trial.metric_imputed,
            "error": trial.error,
            "exit_code": trial.exit_code,
            "run_dir": None if trial.run_dir is None else str(trial.run_dir),
            "started_at": trial.started_at,
            "ended_at": trial.ended_at,
            "duration_s": trial.duration,
            "host": trial.host,
            "agent": trial.agent,
            "pid": trial.pid,
            "requeued": trial.requeued,
            "retried": trial.retried,
            "stop_requested": trial.stop_requested,
            "artifacts": [a.get("name") for a in trial.artifacts if isinstance(a, Mapping)],
        }
    )
