"""Which trial of a sweep a report explains (``--trial``, ``--metric``, else the best by the sweep's metric), and a
sweep's objectives as the report shows them: every trial's value on each, the Pareto front, the ranks.

An offline sweep's front and ranks are the engine's own (``localsweep.core.pareto``, read in ``fetch``: what
``python -m localsweep best`` prints); a W&B sweep's runs are measured by the same rules (``contract.objectives``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.sources.source import ObjectivePoint, Pareto, Selection
from contract.objectives import Objective, find, is_multi_objective, objectives, pareto_front, primary

SHOWN_TRIALS = 8
"""Trials an unknown ``--trial`` message lists."""


@dataclass(frozen=True)
class Pick:
    """Which trial of a sweep to explain: ``trial`` (its run id, or its number as ``localsweep status`` shows it),
    ``metric`` (the best along that one of the sweep's metrics), or neither (the best by the sweep's metric).

    Raises
    ------
    ValueError
        When both are given.

    Examples
    --------
    >>> Pick(trial="3", metric="cost")
    Traceback (most recent call last):
    ...
    ValueError: --trial and --metric each pick the trial to explain, so only one may be given, but got --trial 3 \
and --metric cost; fix: drop one of them
    """

    trial: str | None = None
    metric: str | None = None
    option: str = "--trial"
    """How ``trial`` was given (``compare``'s A and B name trials too), for the messages."""

    def __post_init__(self) -> None:
        if self.trial is not None and self.metric is not None:
            raise ValueError(
                f"--trial and --metric each pick the trial to explain, so only one may be given, but got --trial "
                f"{self.trial} and --metric {self.metric}; fix: drop one of them"
            )

    @property
    def default(self) -> bool:
        """Whether neither was asked for (the best by the sweep's metric)."""
        return self.trial is None and self.metric is None


BEST = Pick()
"""The default: the best trial by the sweep's (first) metric."""


def hint(config: Mapping[str, Any]) -> str:
    """How to pick another trial of a sweep of ``config``.

    >>> hint({"metric": {"name": "acc"}})
    '--trial ID|NUMBER explains another trial, --metric NAME the best along one metric'
    >>> hint({"metrics": [{"name": "acc"}, {"name": "size"}]})
    '--trial ID|NUMBER explains another trial (another point of the front), --metric NAME the best along one metric'
    """
    another = "another trial (another point of the front)" if is_multi_objective(config) else "another trial"
    return f"--trial ID|NUMBER explains {another}, --metric NAME the best along one metric"


def best_rule(config: Mapping[str, Any]) -> str:
    """Why the default trial is explained: it is the best by the sweep's (first) metric.

    >>> best_rule({"metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size"}]})
    "the best on acc (maximize), the sweep's first metric"
    """
    objective = primary(config) or Objective("metric")
    first = "first metric" if is_multi_objective(config) else "metric"
    return f"the best on {objective.name} ({objective.goal}), the sweep's {first}"


def objective_of(config: Mapping[str, Any], name: str, sweep: str) -> Objective:
    """The sweep's objective ``name`` (``--metric``).

    Raises
    ------
    ValueError
        When the sweep has no such metric, naming those it has.

    Examples
    --------
    >>> objective_of({"metrics": [{"name": "acc"}, {"name": "size"}]}, "loss", "s")
    Traceback (most recent call last):
    ...
    ValueError: --metric must name one of sweep s's metrics (acc, size), but got 'loss'; fix: pass one of them
    """
    found = find(config, name)
    if found is None:
        names = ", ".join(o.name for o in objectives(config)) or "none"
        raise ValueError(
            f"--metric must name one of sweep {sweep}'s metrics ({names}), but got {name!r}; fix: pass one of them"
        )
    return found


def find_trial(spec: str, trials: Sequence[tuple[str, int | None]], sweep: str, option: str = "--trial") -> int:
    """The position of the trial that ``spec`` names among ``trials`` (run id, number): its run id, else its number.

    Raises
    ------
    ValueError
        When no trial matches; the message lists the sweep's trials.

    Examples
    --------
    >>> find_trial("2", [("abc", 1), ("def", 2)], "s"), find_trial("abc", [("abc", 1)], "s")
    (1, 0)
    >>> find_trial("zz", [("abc", 1), ("def", 2)], "s")
    Traceback (most recent call last):
    ...
    ValueError: --trial must name a trial of sweep s by its run id or its number, but got 'zz' (its trials: 1 abc, \
2 def); fix: pass one of them (`python -m localsweep status s` lists them)
    """
    ids = [run_id for run_id, _ in trials]
    if spec in ids:
        return ids.index(spec)
    numbers = [number for _, number in trials]
    if spec.isdigit() and int(spec) in numbers:
        return numbers.index(int(spec))
    listed = [f"{number} {run_id}" if number is not None else run_id for run_id, number in trials[:SHOWN_TRIALS]]
    more = f", ... ({len(trials)} in all)" if len(trials) > SHOWN_TRIALS else ""
    return _unknown(option, sweep, spec, ", ".join(listed) + more or "none")


def _unknown(option: str, sweep: str, spec: str, listed: str) -> int:
    raise ValueError(
        f"{option} must name a trial of sweep {sweep} by its run id or its number, but got {spec!r} (its trials: "
        f"{listed}); fix: pass one of them (`python -m localsweep status {sweep}` lists them)"
    )


def choose(sweep: str, config: Mapping[str, Any], pareto: Pareto, pick: Pick) -> Selection:
    """The trial of sweep ``sweep`` that ``pick`` names (``--trial`` or ``--metric``; not the default), and why.

    Raises
    ------
    ValueError
        For an unknown trial or metric, or a sweep with no trial scored on the metric.

    Examples
    --------
    >>> config = {"metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}]}
    >>> pareto = pareto_of_runs(config, [("a", "finished", {}, {"acc": 0.9, "size": 9}),
    ...                                  ("b", "finished", {}, {"acc": 0.8, "size": 1})])
    >>> choose("s", config, pareto, Pick(metric="size")).rule
    'the best on size (minimize), asked for with --metric size'
    >>> choose("s", config, pareto, Pick(trial="a")).rule
    'asked for with --trial a'
    """
    hints = hint(config)
    if pick.trial is not None:
        points = pareto.points
        point = points[find_trial(pick.trial, [(p.run_id, p.number) for p in points], sweep, pick.option)]
        return Selection("trial", point.run_id, point.number, f"asked for with {pick.option} {pick.trial}", hints)
    objective = objective_of(config, str(pick.metric), sweep)
    best = pareto.best(pareto.objectives.index(objective))
    if best is None:
        raise ValueError(
            f"--metric {objective.name} needs a finished trial with a {objective.name} value, but sweep {sweep} has "
            f"none; fix: run or resume the sweep, or pick another metric"
        )
    rule = f"the best on {objective.name} ({objective.goal}), asked for with --metric {objective.name}"
    return Selection("metric", best.run_id, best.number, rule, hints)


def pareto_of_runs(
    config: Mapping[str, Any], runs: Sequence[tuple[str, str, dict[str, Any], Mapping[str, Any]]]
) -> Pareto:
    """A W&B sweep's objectives, front and ranks from its runs ``(id, state, config, summary)``: a finished run is
    measured on each objective by its summary (the public API gives no history here).

    Examples
    --------
    >>> config = {"metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}]}
    >>> runs = [("a", "finished", {}, {"acc": 0.9, "size": 9}), ("b", "finished", {}, {"acc": 0.8, "size": 1}),
    ...         ("c", "finished", {}, {"acc": 0.7, "size": 5}), ("d", "crashed", {}, {"acc": 1.0, "size": 0})]
    >>> pareto = pareto_of_runs(config, runs)
    >>> [p.run_id for p in pareto.front()], pareto.ranked
    (['a', 'b'], (('a', 'b', 'c'), ('b', 'c', 'a')))
    """
    goals = tuple(objectives(config))
    measured = [
        tuple(o.value(summary, []) for o in goals) if state == "finished" else (None,) * len(goals)
        for _, state, _, summary in runs
    ]
    on_front = set(pareto_front(goals, measured))
    points = tuple(
        ObjectivePoint(run_id, None, state, run_config, values, i in on_front)
        for i, ((run_id, state, run_config, _), values) in enumerate(zip(runs, measured, strict=True))
    )
    ranked = tuple(_ranked(points, k, o) for k, o in enumerate(goals))
    return Pareto(goals, points, ranked)


def _ranked(points: Sequence[ObjectivePoint], index: int, objective: Objective) -> tuple[str, ...]:
    """The run ids with a value on objective ``index``, best first (in start order on a tie)."""

    def key(point: ObjectivePoint) -> float:
        return objective.sort_key(point.values[index] or 0.0)

    return tuple(p.run_id for p in sorted((p for p in points if p.values[index] is not None), key=key))
