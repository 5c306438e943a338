"""``method: custom`` run by Optuna: W&B parameters as Optuna distributions, the user's functions, the rebuilt study."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from localsweep.core.pareto import best_along, front
from localsweep.core.trial import CRASHED, FINISHED, RUNNING, STOPPED
from localsweep.search.custom import study as study_module
from localsweep.search.custom.check import violations
from localsweep.search.custom.source import Source
from localsweep.search.custom.space import Space, translate
from localsweep.search.custom.study import Engine, next_params, replay, to_prune
from localsweep.search.wandb_engine import params as wandb_params
from tests.conftest import REPO_ROOT
from tests.trials import trial

SPACES = "tests/localsweep_programs/spaces.py"


def custom(parameters: str, extra: str = "", metric: str = "metric: {name: score, goal: maximize}") -> dict[str, Any]:
    scheduler = "{engine: optuna" + (f", source: {SPACES}, {extra}" if extra else "") + "}"
    return yaml.safe_load(f"method: custom\nscheduler: {scheduler}\n{metric}\nparameters:\n{parameters}")


def engine_of(config: dict[str, Any]) -> Engine:
    return Engine.load(config, Source.read(config["scheduler"], REPO_ROOT))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"values": [1, "a", None, 2.5, True]}, CategoricalDistribution([1, "a", None, 2.5, True])),
        ({"min": 1, "max": 5}, IntDistribution(1, 5)),  # W&B infers int_uniform (max inclusive) from ints
        ({"min": 0.0, "max": 1.0}, FloatDistribution(0.0, 1.0)),
        ({"distribution": "log_uniform_values", "min": 1.0e-4, "max": 0.1}, FloatDistribution(1e-4, 0.1, log=True)),
        ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0}, FloatDistribution(0.01, 1.0, log=True)),
        ({"distribution": "log_uniform", "min": -2.0, "max": 0.0}, FloatDistribution(math.exp(-2), 1.0, log=True)),
        ({"distribution": "inv_log_uniform", "min": 0.0, "max": 2.0}, FloatDistribution(math.exp(-2), 1.0, log=True)),
        ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}, IntDistribution(0, 10, step=2)),
        ({"distribution": "q_uniform", "min": 0.5, "max": 2.0, "q": 0.25}, FloatDistribution(0.5, 2.0, step=0.25)),
        ({"distribution": "q_log_uniform_values", "min": 1, "max": 64, "q": 1}, IntDistribution(1, 64, log=True)),
    ],
)
def test_translate_gives_the_optuna_twin_of_each_wandb_distribution(spec, expected):
    space, problems = translate({"p": spec})
    assert problems == []
    assert space.distributions == {"p": expected}


def test_wandb_inverse_log_uniform_is_the_log_uniform_distribution():
    # The fact the translation relies on: W&B's inv_log_uniform_values draws the same values as log_uniform_values.
    quantiles = np.linspace(0.01, 0.99, 25)
    spec = {"min": 1.0e-3, "max": 1.0}
    inverse = wandb_params.HyperParameter("a", {**spec, "distribution": "inv_log_uniform_values"}).ppf(quantiles)
    direct = wandb_params.HyperParameter("b", {**spec, "distribution": "log_uniform_values"}).ppf(quantiles)
    np.testing.assert_allclose(np.sort(inverse), np.sort(direct), rtol=1e-9)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"values": [1, 2], "probabilities": [0.2, 0.8]}, "Optuna's categorical distribution has no probabilities"),
        ({"distribution": "normal", "mu": 0.0, "sigma": 1.0}, "Optuna has no normal distribution"),
        ({"distribution": "q_log_uniform_values", "min": 32, "max": 512, "q": 32}, "log-scaled or stepped, never"),
        ({"distribution": "q_uniform", "min": 1, "max": 10, "q": 4}, "only when min and max are multiples of q"),
        ({"values": [[1, 2], [3]]}, "choices must be None, bool, int, float or str, but got [1, 2]"),
    ],
)
def test_translate_refuses_what_optuna_cannot_express_with_the_key_path(spec, message):
    _, problems = translate({"block": {"parameters": {"p": spec}}})
    (problem,) = problems
    assert problem.startswith("parameters.block.p: ")
    assert message in problem


def test_space_maps_nested_configs_to_dotted_names_and_back():
    space, _ = translate({"opt": {"parameters": {"lr": {"min": 0.0, "max": 1.0}, "kind": {"value": "adam"}}}})
    assert space.values({"opt": {"lr": 0.5, "kind": "adam"}}) == {"opt.lr": 0.5, "opt.kind": "adam"}
    assert space.config({"opt.lr": 0.5, "free": 1}) == {"opt": {"kind": "adam", "lr": 0.5}, "free": 1}
    assert Space({}, {}, {}).values({"x": 1}) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method: custom\nmetric: {name: a}\nparameters: {x: {values: [1]}}\n", "method: custom needs `scheduler:"),
        (
            "method: custom\nscheduler: {engine: ax}\nmetric: {name: a}\nparameters: {x: {values: [1]}}\n",
            "scheduler.engine: W&B's schema accepts 'ax'",
        ),
        (
            "method: custom\nscheduler: {engine: optuna}\nparameters: {x: {values: [1]}}\n",
            "metric: method custom needs",
        ),
        (
            "method: custom\nscheduler: {engine: optuna, source: no/such.py, search_space: f}\nmetric: {name: a}\n",
            "scheduler.source: cannot read",
        ),
        (
            f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, search_space: nope}}\n"
            "metric: {name: a}\n",
            f"scheduler.search_space: {SPACES} defines no function 'nope' (its functions: [",
        ),
        (
            f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, optimizer: nsga2}}\nmetric: {{name: a}}\n"
            "parameters: {x: {values: [1]}}\n",
            "scheduler.optimizer: nsga2() returned a NSGAIISampler, which keeps its state in the study's system",
        ),
        (
            f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, optimizer: median}}\n"
            "metrics: [{name: a}, {name: b}]\nparameters: {x: {values: [1]}}\n",
            "scheduler.optimizer: returned a MedianPruner, but Optuna cannot prune a multi-objective study",
        ),
        (
            f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, search_space: returns_config}}\n"
            "metric: {name: a}\n",
            "scheduler.search_space: returns_config() must only call trial.suggest_* and return None",
        ),
        (
            f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, search_space: raises}}\n"
            "metric: {name: a}\n",
            "scheduler.search_space: calling it raised ZeroDivisionError",
        ),
    ],
)
def test_violations_of_a_custom_sweep_name_the_key_and_the_fix(text, message):
    found = violations(yaml.safe_load(text), REPO_ROOT)
    assert any(m.startswith(message) for m in found), found


def test_violations_accept_a_define_by_run_sweep():
    assert violations(custom("  x: {min: 0.0, max: 1.0}\n", "search_space: shaped"), REPO_ROOT) == []


def test_next_params_are_reproducible_per_seed_and_follow_the_define_by_run_space():
    config = custom("  x: {min: 0.0, max: 1.0}\n  epochs: {value: 2}\n", "search_space: shaped")
    source = Source.read(config["scheduler"], REPO_ROOT)
    done = [trial(1, FINISHED, {"x": 0.5, "epochs": 2, "shape": "flat"}, summary={"score": 0.5})]
    draws = [next_params(config, done, source, seed, lambda p: True, 1) for seed in (1, 1, 2, 3, 4, 5)]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    for params in draws:
        assert params is not None
        assert params["epochs"] == {"value": 2}
        assert ("k" in params) == (params["shape"]["value"] == "steep")  # k exists only for the steep shape
    assert {p["shape"]["value"] for p in draws if p} == {"flat", "steep"}


def test_replay_records_each_ending_as_an_optuna_state():
    config = custom("  x: {min: 0.0, max: 1.0}\n")
    steps = [{"score": 0.1}, {"score": 0.2}]
    known = [
        trial(1, FINISHED, {"x": 0.1}, history=steps, summary={"score": 0.2}),
        trial(2, STOPPED, {"x": 0.2}, history=steps[:1]),
        trial(3, CRASHED, {"x": 0.3}),
        trial(4, FINISHED, {"x": 0.4}),  # finished without logging the metric
        trial(5, RUNNING, {"x": 0.5}),
    ]
    study, running = replay(engine_of(config), known, {"run5": steps}, optuna.pruners.NopPruner())
    states = [(t.number, t.state.name, t.values, t.intermediate_values, t.params) for t in study.trials]
    assert states == [
        (0, "COMPLETE", [0.2], {1: 0.1, 2: 0.2}, {"x": 0.1}),
        (1, "PRUNED", [0.1], {1: 0.1}, {"x": 0.2}),  # Optuna's value of a pruned trial: its last report
        (2, "FAIL", None, {}, {"x": 0.3}),
        (3, "FAIL", None, {}, {"x": 0.4}),
        (4, "RUNNING", None, {1: 0.1, 2: 0.2}, {"x": 0.5}),
    ]
    assert list(running) == ["run5"]


def test_to_prune_judges_running_trials_at_their_latest_step_with_successive_halving():
    # SuccessiveHalvingPruner(min_resource=1, reduction_factor=2): at rung 0 (step 1) a trial must be in the top half
    # of every value recorded there, its own included. Finished at step 1: 1.0, 2.0, 3.0.
    config = custom("  x: {min: 0.0, max: 9.0}\n", "optimizer: halving")
    known = [
        trial(i, FINISHED, {"x": float(i)}, history=[{"score": float(i)}], summary={"score": float(i)})
        for i in (1, 2, 3)
    ]
    known += [trial(4, RUNNING, {"x": 4.0}), trial(5, RUNNING, {"x": 5.0}), trial(6, RUNNING, {"x": 6.0})]
    live = {"run4": [{"score": 0.5}], "run5": [{"score": 2.5}], "run6": []}
    source = Source.read(config["scheduler"], REPO_ROOT)
    # run4: 0.5 among [1, 2, 3, 0.5] is below the second best (2.0): pruned. run5: 2.5 is kept. run6: no step yet.
    assert to_prune(config, live, known, source) == ["run4"]


def test_to_prune_with_the_median_rule_compares_with_finished_trials_at_the_same_step():
    config = custom("  x: {min: 0.0, max: 9.0}\n", "optimizer: median")
    known = [
        trial(i, FINISHED, {"x": float(i)}, history=[{"score": i * s} for s in (1, 2)], summary={"score": 2.0 * i})
        for i in (1, 2, 3)
    ]
    known += [trial(4, RUNNING, {"x": 4.0}), trial(5, RUNNING, {"x": 5.0})]
    # At step 2 the finished trials logged 2, 4, 6 (median 4): 3.9 is below it, 4.1 is not.
    live = {"run4": [{"score": 1.0}, {"score": 3.9}], "run5": [{"score": 1.0}, {"score": 4.1}]}
    assert to_prune(config, live, known, Source.read(config["scheduler"], REPO_ROOT)) == ["run4"]
    assert to_prune(custom("  x: {min: 0.0, max: 9.0}\n"), live, known, None) == []  # no optimizer: no pruner


def test_front_and_best_along_honour_each_metrics_goal():
    config = yaml.safe_load(
        "metrics: [{name: acc, goal: maximize}, {name: size, goal: minimize}]\nmethod: custom\nparameters: {}\n"
    )
    trials = [
        trial(1, FINISHED, {}, summary={"acc": 0.9, "size": 100}),
        trial(2, FINISHED, {}, summary={"acc": 0.8, "size": 10}),
        trial(3, FINISHED, {}, summary={"acc": 0.7, "size": 50}),  # beaten on both by trial 2
        trial(4, STOPPED, {}, summary={"acc": 0.95, "size": 1000}),
        trial(5, FINISHED, {}, summary={"acc": 0.99}),  # no size: off the front
    ]
    assert [t.number for t in front(config, trials)] == [1, 2, 4]
    assert [best_along(config, trials, name).number for name in ("acc", "size")] == [5, 2]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="--metric 'loss' is not a metric of this sweep; it has: acc, size"):
        best_along(config, trials, "loss")


def test_translate_refuses_a_flat_name_that_a_nested_parameter_also_has():
    _, problems = translate({"a.b": {"values": [1]}, "a": {"parameters": {"b": {"values": [2]}}}})
    assert problems == ["parameters.a.b: a top-level parameter and a nested one both have this dotted name; rename one"]


def _sweep_of_decisions(config: dict[str, Any], source: Source | None, rebuild: bool) -> list[Any]:
    """Twelve suggestions and pruning checks as a controller makes them: each suggestion becomes a pending trial,
    then runs (two steps, judged after each) and finishes; ``rebuild`` drops the kept study before every decision."""
    known: list[Any] = []
    decisions: list[Any] = []
    for number in range(1, 13):
        if rebuild:
            study_module._kept.clear()
        params = next_params(config, known, source, seed=number, accept=lambda p: True, attempts=1)
        assert params is not None
        x = params["x"]["value"]
        known.append(trial(number, RUNNING, {"x": x}))
        history = [{"score": x * step} for step in (1, 2)]
        for steps in (1, 2):
            if rebuild:
                study_module._kept.clear()
            decisions.append(to_prune(config, {f"run{number}": history[:steps]}, known, source))
        known[-1] = trial(number, FINISHED, {"x": x}, history=history, summary={"score": 2 * x})
        decisions.append(params)
    return decisions


@pytest.mark.parametrize("optimizer", ["", "optimizer: median", "optimizer: seeded_halving"])
def test_the_kept_study_decides_as_a_study_rebuilt_for_every_decision(optimizer):
    # One study kept across decisions (told only what changed) must suggest and prune exactly as the study rebuilt
    # from the store before each decision, which is what a controller taking over does (trials here run one at a
    # time, so start order is also the order in which their steps arrive).
    config = custom("  x: {min: 0.0, max: 9.0}\n", optimizer)
    source = Source.read(config["scheduler"], REPO_ROOT) if optimizer else None
    kept = _sweep_of_decisions(config, source, rebuild=False)
    assert kept == _sweep_of_decisions(config, source, rebuild=True)
    pruned = [d for d in kept if isinstance(d, list) and d]
    assert bool(pruned) == bool(optimizer)  # with a pruner, some trials were pruned: the verdicts were compared


def test_the_kept_study_is_reused_and_rebuilt_when_a_trial_leaves_the_search():
    config = custom("  x: {min: 0.0, max: 9.0}\n")
    engine = Engine.load(config, None)
    known = [trial(i, FINISHED, {"x": float(i)}, summary={"score": float(i)}) for i in (1, 2, 3)]
    first = study_module.kept_study(engine, known, {})
    again = study_module.kept_study(engine, [*known, trial(4, RUNNING, {"x": 4.0})], {})
    assert again is first  # one more trial: told, not rebuilt
    assert len(again.study.trials) == 4
    left = study_module.kept_study(engine, [known[0], known[2]], {})  # trial 2 interrupted: out of the search
    assert left is not first
    assert [t.params for t in left.study.trials] == [{"x": 1.0}, {"x": 3.0}]
