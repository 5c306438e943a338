"""The search-quality benchmark's pieces: its sweep configs run, Optuna sees the same space, the tables add up."""

from __future__ import annotations

import optuna
import pytest

from bench.bench_orchestration import spread as seconds_spread
from bench.bench_search import OURS, sweep_config
from bench.optuna_search import suggest
from bench.search_report import best_within, report, spread
from localsweep.search.suggest import space_size
from localsweep.search.validate import check_sweep_config
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("method", OURS)
def test_sweep_config_every_method_is_a_valid_pooled_sweep(method: str) -> None:
    config = sweep_config(method, seed=3)
    check_sweep_config(config, method, pooled=True, workdir=REPO_ROOT)
    assert config["parameters"]["seed"] == {"value": 3}
    assert ("early_terminate" in config) == method.endswith("-hyperband")


def test_sweep_config_grid_has_one_point_per_trial_of_the_budget() -> None:
    assert space_size(sweep_config("grid", seed=0)) == 16


def test_suggest_translates_every_distribution_of_the_space() -> None:
    space = sweep_config("random", seed=0)["parameters"]
    chosen = {"learning_rate": 0.003, "units": 64, "num_layers": 2, "dropout_rate": 0.1, "optimizer": "sgd"}
    trial = optuna.trial.FixedTrial(chosen)
    values = {name: suggest(trial, name, spec) for name, spec in space.items()}
    assert values == {
        **chosen,
        "model": "mlp",
        "batch_size": 128,
        "epochs": 9,
        "train_size": 5000,
        "save_model": False,
        "seed": 0,
    }


def test_suggest_unknown_distribution_names_the_parameter() -> None:
    trial = optuna.trial.FixedTrial({})
    with pytest.raises(ValueError, match="'units': distribution 'q_log_uniform_values'"):
        suggest(trial, "units", {"distribution": "q_log_uniform_values", "min": 32, "max": 512, "q": 32})


def test_best_within_budgets_of_trials_and_epochs() -> None:
    trials = [
        {"val_accuracy": 0.80, "epochs": 9},
        {"val_accuracy": None, "epochs": 1},
        {"val_accuracy": 0.95, "epochs": 3},
        {"val_accuracy": 0.90, "epochs": 9},
    ]
    assert best_within(trials, None, 2) == 0.80
    assert best_within(trials, None, 4) == 0.95
    assert best_within(trials, "epochs", 12) == 0.80
    assert best_within(trials, "epochs", 13) == 0.95
    assert best_within(trials, "epochs", 8) is None


def test_spread_is_median_and_range_or_not_available() -> None:
    assert spread([0.9, 0.95, 0.93]) == "0.930 [0.900-0.950]"
    assert spread([0.9, None]) == "n/a"
    assert seconds_spread([1.0, 2.0, 3.0, 4.0, 100.0]) == {
        "median": 3.0,
        "q1": 2.0,
        "q3": 4.0,
        "min": 1.0,
        "max": 100.0,
    }


def test_report_counts_seeds_where_optuna_is_better() -> None:
    def trial(method: str, seed: int, value: float) -> dict[str, object]:
        return {
            "method": method,
            "seed": seed,
            "budget": 1,
            "trial": 1,
            "state": "finished",
            "val_accuracy": value,
            "epochs": 9,
            "wall_s": 2.0,
            "study_wall_s": 5.0,
            "loadavg": [1.0, 1.0, 1.0],
        }

    records = [trial("random", 0, 0.90), trial("random", 1, 0.92)]
    records += [trial("optuna-tpe-hyperband", 0, 0.91), trial("optuna-tpe-hyperband", 1, 0.90)]
    text = report(records)
    assert "- vs random: optuna-tpe-hyperband better on 1/2 seeds, median difference -0.0050" in text
    assert "| random | 2 | 0.910 [0.900-0.920] |" in text
