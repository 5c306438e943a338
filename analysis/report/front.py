"""The report of a sweep with several objectives: its Pareto front, which trial the report explains and why, and
what that trial gave up on each objective; as JSON (``summary``) and as the report's opening sections."""

from __future__ import annotations

import json
from typing import Any

from analysis.report.render import Section, measured, number
from analysis.sources.source import ObjectivePoint, Pareto, Source

FIGURE = ("pareto_front", "The Pareto front: every scored trial, the front highlighted, the explained trial ringed")


def selection(source: Source) -> dict[str, Any] | None:
    """Which trial of its sweep the report explains and why, or ``None`` (the default best of a one-metric sweep)."""
    return None if source.selection is None else vars(source.selection)


def _row(pareto: Pareto, point: ObjectivePoint) -> dict[str, Any]:
    return {
        "run_id": point.run_id,
        "number": point.number,
        "state": point.state,
        "metrics": {o.name: v for o, v in zip(pareto.objectives, point.values, strict=True)},
        "config": point.config,
        "on_front": point.on_front,
    }


def _trade_off(pareto: Pareto, index: int, point: ObjectivePoint | None) -> dict[str, Any]:
    objective, best = pareto.objectives[index], pareto.best(index)
    value = None if point is None else point.values[index]
    best_value = None if best is None else best.values[index]
    behind = None if value is None or best_value is None else abs(value - best_value)
    return {
        "metric": objective.name,
        "goal": objective.goal,
        "value": value,
        "rank": None if point is None else pareto.rank(index, point.run_id),
        "scored": len(pareto.ranked[index]),
        "best": best_value,
        "best_run_id": None if best is None else best.run_id,
        "best_number": None if best is None else best.number,
        "behind_best": behind,
    }


def summary(source: Source) -> dict[str, Any] | None:
    """The sweep's objectives, front (as ``python -m localsweep best --json`` lists it: start order), every trial
    on the objectives, and the explained trial's rank and trade-off on each; ``None`` for a one-metric sweep."""
    pareto, run = source.pareto, source.run
    if pareto is None or run is None:
        return None
    point = pareto.point(run.run_id)
    return {
        "objectives": [{"name": o.name, "goal": o.goal} for o in pareto.objectives],
        "front": [_row(pareto, p) for p in pareto.front()],
        "trials": [_row(pareto, p) for p in pareto.points],
        "explained": {
            "run_id": run.run_id,
            "number": None if point is None else point.number,
            "on_front": point is not None and point.on_front,
            "beaten_by": [p.run_id for p in pareto.beaten_by(run.run_id)],
            "trade_offs": [_trade_off(pareto, k, point) for k in range(len(pareto.objectives))],
        },
    }


def trial_name(run_id: str, number: int | None) -> str:
    """A trial as people name it: its number, then its run id.

    >>> trial_name("abc", 3), trial_name("abc", None)
    ('trial 3 (abc)', 'run abc')
    """
    return f"run {run_id}" if number is None else f"trial {number} ({run_id})"


def objectives_text(pareto: dict[str, Any]) -> str:
    """The objectives as one line.

    >>> objectives_text({"objectives": [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}]})
    'acc (maximize), size (minimize)'
    """
    return ", ".join(f"{o['name']} ({o['goal']})" for o in pareto["objectives"])


def standing(pareto: dict[str, Any]) -> str:
    """Whether the explained trial is on the front, and if not, which front trials beat it on every objective.

    >>> standing({"front": [{"run_id": "a", "number": 1}], "explained": {"on_front": False, "beaten_by": ["a"]}})
    'not on the front: trial 1 (a) is at least as good on every metric and better on one'
    """
    explained = pareto["explained"]
    if explained["on_front"]:
        return f"on the front ({len(pareto['front'])} trials)"
    numbers = {row["run_id"]: row["number"] for row in pareto["front"]}
    beaters = [trial_name(run_id, numbers.get(run_id)) for run_id in explained["beaten_by"]]
    if not beaters:
        return "not on the front: it has no value for every metric"
    verb = "is" if len(beaters) == 1 else "are each"
    return f"not on the front: {', '.join(beaters)} {verb} at least as good on every metric and better on one"


def ranks_text(pareto: dict[str, Any]) -> str:
    """The explained trial's rank along each objective.

    >>> ranks_text({"explained": {"trade_offs": [{"metric": "acc", "rank": 2, "scored": 4},
    ...                                          {"metric": "size", "rank": None, "scored": 4}]}})
    'acc: 2 of 4, size: not scored'
    """
    return ", ".join(
        f"{t['metric']}: {t['rank']} of {t['scored']}" if t["rank"] is not None else f"{t['metric']}: not scored"
        for t in pareto["explained"]["trade_offs"]
    )


def provenance_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The rows the report's "Run and provenance" section adds: why this trial, and for several objectives its
    rank on each and whether it is on the front."""
    rows = []
    chosen, pareto = summary.get("selection"), summary.get("pareto")
    if chosen:
        if chosen["number"] is not None:
            rows.append(["sweep trial", f"number {chosen['number']}"])
        rows.append(["explained", f"{chosen['rule']}; {chosen['hint']}"])
    if pareto:
        rows += [
            ["sweep metrics", objectives_text(pareto)],
            ["rank on each metric", ranks_text(pareto)],
            ["Pareto front", standing(pareto)],
        ]
    return rows


def _varying(trials: list[dict[str, Any]]) -> list[str]:
    """The config keys whose values differ between trials (all of them when none does)."""
    keys = sorted({key for t in trials for key in t["config"]})
    varying = [k for k in keys if len({json.dumps(t["config"].get(k), sort_keys=True) for t in trials}) > 1]
    return varying or keys


def sections(summary: dict[str, Any]) -> list[Section]:
    """The opening sections of a multi-objective sweep's report: the front (table and figure, which trial is
    explained and why) and the explained trial on each objective; none for a one-metric sweep."""
    pareto, chosen, sweep = summary.get("pareto"), summary.get("selection"), summary["sweep"]
    if not pareto:
        return []
    names = [o["name"] for o in pareto["objectives"]]
    parameters = _varying(pareto["trials"])
    explained = pareto["explained"]
    rows = [
        [
            "explained" if row["run_id"] == explained["run_id"] else "",
            number(row["number"]),
            row["run_id"],
            row["state"],
            *(measured(row["metrics"][name]) for name in names),
            *(json.dumps(row["config"].get(p), ensure_ascii=False) for p in parameters),
        ]
        for row in pareto["front"]
    ]
    who = trial_name(explained["run_id"], explained["number"])
    why = f"{chosen['rule']}; it is {standing(pareto)}. To explain another: {chosen['hint']}" if chosen else ""
    intro = (
        f"Sweep {sweep['name']} optimises {len(names)} metrics: {objectives_text(pareto)}. {len(pareto['front'])} of "
        f"its {len(pareto['trials'])} trials are on the Pareto front (no other trial is at least as good on every "
        f"metric and better on one); the table lists them in start order with their parameters. This report "
        f"explains {who}: {why}."
    )
    trade_offs = [
        [
            t["metric"],
            t["goal"],
            measured(t["value"]),
            f"{t['rank']} of {t['scored']}" if t["rank"] is not None else "not scored",
            measured(t["best"]),
            "" if t["best_run_id"] is None else trial_name(t["best_run_id"], t["best_number"]),
            measured(t["behind_best"]),
        ]
        for t in explained["trade_offs"]
    ]
    return [
        Section("Pareto front", intro, ["", "#", "run", "state", *names, *parameters], rows, [FIGURE]),
        Section(
            "Explained trial on each metric",
            f"What {who} gave up: on each metric, its value and rank against the best trial of the sweep on it.",
            ["metric", "goal", "value", "rank", "best in the sweep", "best trial", "behind the best"],
            trade_offs,
        ),
    ]
