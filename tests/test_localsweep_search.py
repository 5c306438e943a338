"""The engine's decisions come from W&B's `sweeps` package: suggestions, hyperband stops, imputation."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contract.objectives import Objective
from localsweep.core.trial import CRASHED, FINISHED, RUNNING, Trial
from localsweep.search.suggest import (
    SearchOptions,
    imputed_metric,
    metric_value,
    runs_to_stop,
    space_size,
    suggest,
)
from localsweep.storage.layout import SweepLayout
from localsweep.workers.command import command_line
from localsweep.workers.handoff import TrialTask, read_live_history, slot_environments
from tests.trials import trial

RANDOM = {
    "method": "random",
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1.0e-4, "max": 1.0e-1},
        "block": {"parameters": {"units": {"values": [32, 64, 128]}}},
    },
}
BAYES: dict[str, Any] = {
    "method": "bayes",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"lr": {"min": 0.0, "max": 1.0}, "units": {"values": [32, 64]}},
}


def test_suggest_with_a_seed_reproduces_random_suggestions_nested_included():
    first: list[Any] = [suggest(RANDOM, [trial(i, FINISHED, {})] * i, SearchOptions(seed=7)) for i in range(3)]
    again = [suggest(RANDOM, [trial(i, FINISHED, {})] * i, SearchOptions(seed=7)) for i in range(3)]
    other = suggest(RANDOM, [], SearchOptions(seed=8))
    assert first == again
    assert other != first[0]
    assert len({s["lr"]["value"] for s in first}) == 3
    assert first[0]["block"]["value"]["units"] in (32, 64, 128)
    assert isinstance(first[0]["lr"]["value"], float)  # a Python float, not a numpy scalar


@pytest.mark.parametrize("config", [RANDOM, BAYES])
def test_a_seeded_suggestion_leaves_the_process_generators_as_they_were(config: dict[str, Any]) -> None:
    # W&B's engine draws from Python's and numpy's global generators: a pooled trial in the same process must not
    # find them reseeded.
    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), float(np.random.random()))
    random.seed(123)
    np.random.seed(123)
    suggest(config, [trial(1, FINISHED, {"lr": 0.1, "units": 32}, summary={"acc": 0.5})], SearchOptions(seed=0))
    assert (random.random(), float(np.random.random())) == expected


def test_suggest_with_nearby_seeds_gives_independent_sweeps():
    # Seed 1's first suggestion must not be seed 0's second one (as it was with a seed + n scheme).
    second_of_seed_0 = suggest(RANDOM, [trial(0, FINISHED, {})], SearchOptions(seed=0))
    first_of_seed_1 = suggest(RANDOM, [], SearchOptions(seed=1))
    assert second_of_seed_0 != first_of_seed_1


def test_suggest_with_a_seed_reproduces_bayes_suggestions():
    done = [
        trial(1, FINISHED, {"lr": 0.1, "units": 32}, summary={"acc": 0.5}),
        trial(2, FINISHED, {"lr": 0.9, "units": 64}, summary={"acc": 0.9}),
        trial(3, CRASHED, {"lr": 0.5, "units": 64}),
    ]
    assert suggest(BAYES, done, SearchOptions(seed=3)) == suggest(BAYES, done, SearchOptions(seed=3))


def test_suggest_grid_never_repeats_and_ends_when_exhausted():
    grid = {
        "method": "grid",
        "parameters": {"a": {"values": [1, 2]}, "q": {"distribution": "int_uniform", "min": 0, "max": 1}},
    }
    trials: list[Trial] = []
    while (params := suggest(grid, trials, SearchOptions(seed=None))) is not None:
        trials.append(trial(len(trials) + 1, FINISHED, {k: v["value"] for k, v in params.items()}))
    assert sorted((t.config["a"], t.config["q"]) for t in trials) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert space_size(grid) == 4


def test_runs_to_stop_uses_the_live_history_of_running_trials():
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "max_iter": 5, "eta": 2, "s": 2},
        "parameters": {"a": {"values": [1, 2, 3]}},
    }
    loss = [{"loss": v} for v in (10, 9)]
    trials = [
        trial(1, FINISHED, {"a": 1}, history=loss),
        trial(2, RUNNING, {"a": 2}),
        trial(3, RUNNING, {"a": 3}),
        trial(4, RUNNING, {"a": 4}),
        trial(5, FINISHED, {"a": 5}, history=[{"loss": v} for v in (10, 6, 6)]),
    ]
    live = {
        "run2": [{"loss": v} for v in (10, 10)],
        "run3": [{"loss": v} for v in (10, 8, 8)],
        "run4": [{"loss": v} for v in (10, 7, 7)],
    }
    # sweeps' own doctest example: bands [1, 2], threshold at band 2 is 8; only run2 (10 > 8) is stopped.
    assert runs_to_stop(config, live, trials) == ["run2"]
    assert runs_to_stop(config, {}, trials) == []


def test_metric_value_prefers_the_summary_then_the_best_logged_value():
    assert metric_value(BAYES, {"acc": 0.7}, [{"acc": 0.9}]) == 0.7
    assert metric_value(BAYES, {}, [{"acc": 0.4}, {"acc": 0.9}, {"acc": 0.8}]) == 0.9
    assert metric_value(BAYES, {"acc": "nan"}, []) is None


def test_imputed_metric_follows_metric_impute_worst_like_wandb():
    done = [
        trial(1, FINISHED, {"lr": 0.1}, history=[{"acc": 0.6}, {"acc": 0.8}]),
        trial(2, FINISHED, {"lr": 0.2}, history=[{"acc": 0.7}]),
    ]
    crashed = trial(3, CRASHED, {"lr": 0.3}, history=[{"acc": 0.95}])
    assert imputed_metric(BAYES, crashed, [*done, crashed]) == 0.6
    latest = {**BAYES, "metric": {**BAYES["metric"], "impute": "latest"}}
    assert imputed_metric(latest, crashed, [*done, crashed]) == 0.95


@pytest.mark.parametrize(("value", "reached"), [(0.97, False), (0.98, True), (None, False)])
def test_reached_target_for_a_maximized_metric(value, reached):
    config = {"metric": {"name": "acc", "goal": "maximize", "target": 0.98}}
    assert Objective.of(config["metric"]).reached(value) is reached


def test_command_line_matches_the_wandb_agent(tmp_path: Path):
    task = TrialTask.create(
        SweepLayout(tmp_path),
        "sw1",
        "abc123",
        {"lr": {"value": 0.01}, "opt": {"value": "adam"}, "flag": {"value": False}},
        project=None,
    )
    default = command_line({"program": "train.py"}, task)
    assert default == ["/usr/bin/env", sys.executable, "train.py", "--lr=0.01", "--opt=adam", "--flag=False"]
    custom = {
        "command": [
            "${env}",
            "${interpreter}",
            "-m",
            "trainer",
            "${args_no_hyphens}",
            "${args_json}",
            "${args_json_file}",
            "${args_no_boolean_flags}",
            "${envvar:HOME}",
        ],
    }
    assert command_line(custom, task) == [
        "/usr/bin/env",
        sys.executable,
        "-m",
        "trainer",
        "lr=0.01",
        "opt=adam",
        "flag=False",
        '{"lr": 0.01, "opt": "adam", "flag": false}',
        str(task.json_path),
        "--lr=0.01",
        "--opt=adam",
        str(Path.home()),
    ]
    assert task.param_path == tmp_path / "wandb" / "sweep-sw1" / "config-abc123.yaml"


def test_read_live_history_merges_steps_and_skips_a_torn_line(tmp_path: Path):
    path = tmp_path / "live.jsonl"
    path.write_text('{"_step": 0, "loss": 3.0}\n{"_step": 0, "acc": 0.5}\n{"_step": 1, "loss": 2.0}\n{"_step": 2, "lo')
    assert read_live_history(path) == [{"_step": 0, "loss": 3.0, "acc": 0.5}, {"_step": 1, "loss": 2.0}]


def test_slot_environments_pin_gpus_or_split_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [e["OMP_NUM_THREADS"] for e in slot_environments(3, [], 8)] == ["2", "2", "2"]
    assert slot_environments(2, ["4", "7"], 8) == [{"CUDA_VISIBLE_DEVICES": "4"}, {"CUDA_VISIBLE_DEVICES": "7"}]
