"""Where a report's predictions came from: the run, its sweep (with its objectives and Pareto front when it has
several) and the file, as plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contract.objectives import Objective, better, dominates, sort_key


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
class ObjectivePoint:
    """One trial of a sweep with several objectives: its value on each (``None``: not measured), in the sweep's
    order, and whether it is on the Pareto front."""

    run_id: str
    number: int | None
    state: str
    config: dict[str, Any]
    values: tuple[float | None, ...]
    on_front: bool


@dataclass(frozen=True)
class Pareto:
    """A sweep's objectives and every trial on them: ``points`` in start order, ``ranked`` the run ids scored on
    each objective, best first (as the engine's ``best --metric`` ranks them)."""

    objectives: tuple[Objective, ...]
    points: tuple[ObjectivePoint, ...]
    ranked: tuple[tuple[str, ...], ...]

    def front(self) -> list[ObjectivePoint]:
        """The trials on the Pareto front, in start order."""
        return [p for p in self.points if p.on_front]

    def point(self, run_id: str) -> ObjectivePoint | None:
        """The trial ``run_id``, or ``None``."""
        return next((p for p in self.points if p.run_id == run_id), None)

    def rank(self, index: int, run_id: str) -> int | None:
        """1-based rank of ``run_id`` along objective ``index`` among the trials scored on it (ties share the better
        rank), or ``None`` when it is not scored on it.

        Examples
        --------
        >>> points = (ObjectivePoint("a", 1, "finished", {}, (0.9, 5.0), True),
        ...           ObjectivePoint("b", 2, "finished", {}, (0.8, 1.0), True))
        >>> pareto = Pareto((Objective("acc", "maximize"), Objective("size")), points, (("a", "b"), ("b", "a")))
        >>> pareto.rank(0, "b"), pareto.rank(1, "b"), pareto.rank(1, "c")
        (2, 1, None)
        """
        scored = {p.run_id: p.values[index] for p in self.points if p.run_id in self.ranked[index]}
        mine = scored.get(run_id)
        if mine is None:
            return None
        goal = self.objectives[index].goal
        return 1 + sum(1 for value in scored.values() if value is not None and better(goal, value, mine))

    def best(self, index: int) -> ObjectivePoint | None:
        """The best trial along objective ``index``, or ``None`` when no trial is scored on it."""
        return self.point(self.ranked[index][0]) if self.ranked[index] else None

    def beaten_by(self, run_id: str) -> list[ObjectivePoint]:
        """The trials on the front that beat ``run_id`` on every objective (empty for a trial on the front).

        Examples
        --------
        >>> points = (ObjectivePoint("a", 1, "finished", {}, (0.9, 1.0), True),
        ...           ObjectivePoint("b", 2, "finished", {}, (0.8, 5.0), False))
        >>> pareto = Pareto((Objective("acc", "maximize"), Objective("size")), points, (("a", "b"), ("a", "b")))
        >>> [p.run_id for p in pareto.beaten_by("b")], pareto.beaten_by("a")
        (['a'], [])
        """
        mine = self.point(run_id)
        if mine is None or None in mine.values:
            return []
        return [p for p in self.front() if dominates(self.objectives, _measured(p.values), _measured(mine.values))]


def _measured(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


@dataclass(frozen=True)
class Selection:
    """Which trial of a sweep a report explains and why: ``kind`` is how it was picked (``best`` by the sweep's
    first metric, ``metric`` the best along one objective, ``trial`` asked for by id or number), ``rule`` says it in
    words and ``hint`` how to pick another."""

    kind: Literal["best", "metric", "trial"]
    run_id: str
    number: int | None
    rule: str
    hint: str


@dataclass(frozen=True)
class Source:
    """The predictions file to analyse and what is known about where it came from.

    ``schema_version`` is the predictions schema its artifact declares (``None``: a plain file, none declared);
    ``pareto`` the sweep's objectives and front when it has several; ``selection`` why this trial of the sweep
    (``None``: the best run of a one-metric sweep, the default).
    """

    predictions_path: Path
    origin: str
    run: RunInfo | None = None
    sweep: SweepInfo | None = None
    artifact: str | None = None
    notes: list[str] = field(default_factory=list)
    schema_version: int | None = None
    pareto: Pareto | None = None
    selection: Selection | None = None
