"""A sweep's objectives, one contract for the engine and the report: a run's value for an objective is the one W&B's
engine reads, and the Pareto front is the one Optuna finds."""

from __future__ import annotations

from typing import Any

import optuna
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.objectives import Goal, Objective, dominates, pareto_front
from localsweep.search.wandb_engine import sweep_run, sweeps

NAME = "m"
LOGGED = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.integers(),  # beyond 64 bits too: numpy refuses those, so W&B's engine does
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.just({"_type": "histogram"}),
)
ROWS = st.lists(st.dictionaries(st.sampled_from([NAME, "other"]), LOGGED, max_size=2), max_size=6)
GOALS: st.SearchStrategy[Goal] = st.sampled_from(["maximize", "minimize"])


def wandb_reads(objective: Objective, summary: dict[str, Any], history: list[dict[str, Any]]) -> float | None:
    """How W&B's engine (the ``sweeps`` package) reads a run's metric: summary, else the extremum of the history."""
    if sweep_run.is_number(summary.get(objective.name)):
        return float(summary[objective.name])
    try:
        return float(sweeps.SweepRun(history=history).metric_extremum(objective.name, kind=objective.goal))
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(goal=GOALS, summary=st.dictionaries(st.sampled_from([NAME, "other"]), LOGGED, max_size=2), history=ROWS)
def test_value_is_what_wandbs_engine_reads(goal, summary, history):
    objective = Objective(NAME, goal)
    assert objective.value(summary, history) == wandb_reads(objective, summary, history)


def optuna_front(goals: list[Objective], rows: list[list[float | None]]) -> list[int]:
    study = optuna.create_study(directions=[g.goal for g in goals])
    complete = [(i, [v for v in row if v is not None]) for i, row in enumerate(rows) if None not in row]
    study.add_trials(optuna.trial.create_trial(values=values, params={}, distributions={}) for _, values in complete)
    return sorted(complete[t.number][0] for t in study.best_trials)


VALUE = st.one_of(st.none(), st.integers(0, 4).map(float), st.floats(-1e6, 1e6))  # small integers: many ties


@settings(max_examples=300, deadline=None)
@given(
    goals=st.lists(GOALS, min_size=2, max_size=3).map(lambda gs: [Objective(f"m{i}", g) for i, g in enumerate(gs)]),
    data=st.data(),
)
def test_pareto_front_is_optunas(goals, data):
    rows = data.draw(st.lists(st.lists(VALUE, min_size=len(goals), max_size=len(goals)), max_size=30))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert pareto_front(goals, rows) == optuna_front(goals, rows)


def test_dominance_honours_each_goal():
    goals = [Objective("acc", "maximize"), Objective("size", "minimize")]
    assert dominates(goals, [0.9, 10], [0.9, 20])
    assert not dominates(goals, [0.9, 20], [0.9, 10])
    assert not dominates(goals, [0.9, 10], [0.9, 10])
    assert pareto_front(goals, [[0.9, 10], [0.9, 10], [0.8, 20]]) == [0, 1]
    assert pareto_front(goals, []) == []
