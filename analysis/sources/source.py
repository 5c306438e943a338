"""Where a report's predictions came from: the run, its sweep and the file, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.objectives import better, sort_key


@dataclass(frozen=True)
class RunInfo:
    """The analysed run: id, display name, state, config, summary and where it lives (a directory or a URL)."""

    run_id: str
    name: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]
    location: str


@dataclass(frozen=True)
class TrialPoint:
    """One trial of a sweep: its config and its sweep metric (``None`` when it has no real value)."""

    run_id: str
    state: str
    config: dict[str, Any]
    metric_value: float | None


@dataclass(frozen=True)
class SweepInfo:
    """The sweep the run belongs to, with every trial (for the rank and the hyperparameter plots)."""

    name: str
    sweep_id: str
    metric_name: str
    goal: str
    location: str
    parameters: list[str]
    trials: list[TrialPoint]

    def scored(self) -> list[TrialPoint]:
        """Trials with a metric value, best first.

        Examples
        --------
        >>> t = [TrialPoint("a", "finished", {}, 0.9), TrialPoint("b", "crashed", {}, None),
        ...      TrialPoint("c", "finished", {}, 0.95)]
        >>> [p.run_id for p in SweepInfo("s", "s", "acc", "maximize", ".", [], t).scored()]
        ['c', 'a']
        """
        scored = [t for t in self.trials if t.metric_value is not None]
        return sorted(scored, key=lambda t: sort_key(self.goal, t.metric_value or 0.0))

    def rank(self, run_id: str) -> int | None:
        """1-based rank of ``run_id`` among the scored trials (ties share the better rank), or ``None``.

        Examples
        --------
        >>> t = [TrialPoint("a", "finished", {}, 0.9), TrialPoint("c", "finished", {}, 0.95)]
        >>> SweepInfo("s", "s", "acc", "maximize", ".", [], t).rank("a")
        2
        """
        values = {t.run_id: t.metric_value for t in self.trials if t.metric_value is not None}
        if run_id not in values:
            return None
        return 1 + sum(1 for value in values.values() if better(self.goal, value, values[run_id]))


def swept_parameters(sweep_config: dict[str, Any]) -> list[str]:
    """Names of the parameters a W&B sweep config varies (those not fixed with ``value:``).

    Examples
    --------
    >>> swept_parameters({"parameters": {"lr": {"values": [0.1, 0.01]}, "epochs": {"value": 1}}})
    ['lr']
    """
    parameters = sweep_config.get("parameters") or {}
    return [name for name, spec in parameters.items() if not (isinstance(spec, dict) and set(spec) == {"value"})]


@dataclass(frozen=True)
class Source:
    """The predictions file to analyse and what is known about where it came from.

    ``schema_version`` is the predictions schema its artifact declares (``None``: a plain file, none declared).
    """

    predictions_path: Path
    origin: str
    run: RunInfo | None = None
    sweep: SweepInfo | None = None
    artifact: str | None = None
    notes: list[str] = field(default_factory=list)
    schema_version: int | None = None
