"""What the search does beyond its method: --distinct, --prior-sweep (warm start) and resume --retry-crashed."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import pytest
import yaml

from localsweep.core.trial import CRASHED, FINISHED, PENDING, Trial
from localsweep.search import distinct, prior
from localsweep.search.custom.source import Source
from localsweep.search.suggest import SearchOptions, new_settings, retry, space_size, suggest
from localsweep.storage.cache import TrialCache
from localsweep.storage.store import SweepStore
from tests.trials import start_trial, trial

SPACE = "parameters:\n  x: {values: [1, 2, 3]}\n  k: {values: [a, b]}\n  epochs: {value: 3}\n"
METHODS = {
    "random": "method: random\n",
    "bayes": "method: bayes\nmetric: {name: score, goal: maximize}\n",
    "custom": "method: custom\nscheduler: {engine: optuna}\nmetric: {name: score, goal: maximize}\n",
}


def run_out(config: dict[str, Any], options: SearchOptions, limit: int = 20) -> list[dict[str, Any]]:
    """Suggest, record as finished (score = x), repeat until the search says the space is exhausted."""
    trials: list[Trial] = []
    while len(trials) < limit and (params := suggest(config, trials, options)) is not None:
        values = {k: v["value"] for k, v in params.items()}
        trials.append(trial(len(trials) + 1, FINISHED, values, score=float(values["x"])))
    return [t.config for t in trials]


@pytest.mark.parametrize("method", METHODS)
def test_distinct_runs_every_point_of_a_discrete_space_once_then_ends(method):
    config = yaml.safe_load(METHODS[method] + SPACE)
    configs = run_out(config, SearchOptions(seed=3, distinct=True))
    assert len(configs) == 6  # 3 x 2 points, then suggest() returned None
    assert {(c["x"], c["k"]) for c in configs} == {(x, k) for x in (1, 2, 3) for k in ("a", "b")}
    assert all(c["epochs"] == 3 for c in configs)


@pytest.mark.parametrize("method", METHODS)
def test_without_distinct_the_same_space_repeats_points(method):
    config = yaml.safe_load(METHODS[method] + SPACE)
    configs = run_out(config, SearchOptions(seed=3), limit=12)
    assert len({(c["x"], c["k"]) for c in configs}) < 12  # what --distinct prevents


def test_distinct_counts_pending_and_prior_trials_as_run():
    config = yaml.safe_load(METHODS["random"] + SPACE)
    ran_before = (trial(-1, FINISHED, {"x": 1, "k": "a", "epochs": 3}, score=1.0),)
    pending = [trial(1, PENDING, {"x": 2, "k": "a", "epochs": 3})]
    options = SearchOptions(seed=0, distinct=True, prior=ran_before)
    assert space_size(config, options) == 5
    seen = set()
    trials = list(pending)
    while (params := suggest(config, trials, options)) is not None:
        seen.add((params["x"]["value"], params["k"]["value"]))
        trials.append(trial(len(trials) + 1, FINISHED, {k: v["value"] for k, v in params.items()}))
    assert seen == {(x, k) for x in (1, 2, 3) for k in ("a", "b")} - {(1, "a"), (2, "a")}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("  lr: {min: 0.0, max: 1.0}\n", "parameters.lr: --distinct needs a discrete space"),
        ("  q: {distribution: q_uniform, min: 0, max: 10, q: 2}\n", "parameters.q: --distinct needs a discrete space"),
        ("  b: {parameters: {lr: {min: 0.0, max: 1.0}}}\n", "parameters.b.lr: --distinct needs a discrete space"),
    ],
)
def test_distinct_is_refused_where_the_space_is_not_enumerable(parameters, message):
    (problem,) = distinct.violations(yaml.safe_load(f"method: random\nparameters:\n{parameters}"))
    assert problem.startswith(message)


def test_distinct_is_refused_for_a_define_by_run_space():
    config = {"method": "custom", "scheduler": {"engine": "optuna", "source": "s.py", "search_space": "f"}}
    assert distinct.violations(config)[0].startswith("scheduler.search_space: --distinct enumerates the space")


def test_retried_trials_run_again_first_and_once():
    config = yaml.safe_load(METHODS["random"] + SPACE)
    crashed = replace(trial(1, CRASHED, {"x": 3, "k": "b", "epochs": 3}), retried=True)
    assert suggest(config, [crashed], SearchOptions(seed=0)) == crashed.params
    assert retry([crashed]) == crashed.params
    assert retry([crashed, replace(trial(2, CRASHED, crashed.config), requeued=True)]) == crashed.params
    assert retry([crashed, trial(2, PENDING, crashed.config)]) is None  # its second attempt is under way


def test_a_retried_grid_point_is_suggested_again_and_the_grid_then_goes_on():
    config = yaml.safe_load("method: grid\n" + SPACE)
    first = suggest(config, [], SearchOptions())
    assert first is not None
    crashed = replace(trial(1, CRASHED, {k: v["value"] for k, v in first.items()}), retried=True)
    assert suggest(config, [crashed], SearchOptions()) == first
    rerun = trial(2, FINISHED, crashed.config)
    second = suggest(config, [crashed, rerun], SearchOptions())
    assert second not in (None, first)


PRIOR_X = [0.02, 0.1, 0.18, 0.26, 0.34, 0.42, 0.5, 0.58, 0.66, 0.74, 0.8, 0.86]


@pytest.mark.parametrize("method", ["bayes", "custom"])
def test_prior_trials_shape_the_first_suggestion(method):
    config = yaml.safe_load(METHODS[method] + "parameters:\n  x: {min: 0.0, max: 1.0}\n")
    earlier = tuple(trial(i - len(PRIOR_X), FINISHED, {"x": x}, score=x) for i, x in enumerate(PRIOR_X))
    cold = [suggest(config, [], SearchOptions(seed=s))["x"]["value"] for s in range(5)]  # type: ignore[index]
    warm = [suggest(config, [], SearchOptions(seed=s, prior=earlier))["x"]["value"] for s in range(5)]  # type: ignore[index]
    # W&B's bayes draws at random until it has two results, TPE until ten: cold first suggestions are uniform draws;
    # with twelve prior results both model them at once and go where the score is highest.
    assert min(warm) > 0.9
    assert min(cold) < 0.5


def test_prior_snapshot_keeps_the_trials_that_fit_and_says_why_others_do_not(tmp_path):
    earlier = SweepStore.create(
        tmp_path / "old",
        name="old",
        sweep_id="s",
        config=yaml.safe_load(
            "method: random\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0, max: 9}\n"
        ),
        source="old.yaml",
        settings={},
    )
    earlier.acquire_lease()
    rows = [({"x": 2}, {"score": 0.5}), ({"x": 7}, {"score": 0.9}), ({"x": 1}, {}), ({"y": 1}, {"score": 0.1})]
    for i, (config, summary) in enumerate(rows):
        start_trial(earlier, f"r{i}", {k: {"value": v} for k, v in config.items()})
        earlier.finish_trial(
            f"r{i}", state=FINISHED, requeued=False, exit_code=0, error=None, run_dir=None, history=[{"score": 0.1}]
            if summary else [], summary=summary, artifacts=[], metric_value=summary.get("score"), metric_imputed=False,
        )  # fmt: skip
    config = yaml.safe_load(
        "method: bayes\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0, max: 5}\n"
    )
    records, notes = prior.snapshot(config, None, [earlier])
    assert [r["params"] for r in records] == [{"x": {"value": 2}}]
    assert notes == [
        "--prior-sweep old: 1 of 4 trials; 1 left out: a value outside this sweep's space (The value 7 of parameter "
        "'x' isn't contained in the distribution IntDistribution(high=5, log=False, low=0, step=1).); 1 left out: no "
        "value for score; 1 left out: no parameter x"
    ]
    settings, _ = new_settings(
        config, seed=4, distinct=False, prior_sweeps=["old"], open_sweep=lambda name: earlier, workdir=tmp_path
    )
    options = SearchOptions.from_settings(settings)
    (known,) = options.prior
    assert (known.number, known.config, known.metric_value, options.seed) == (-1, {"x": 2}, 0.5, 4)


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ({"x": 2, "epochs": 3}, None),
        ({"x": 2, "epochs": 9}, "another constant (epochs=9): a different experiment"),
        ({"epochs": 3}, "no parameter x"),
    ],
)
def test_a_prior_trial_fits_when_its_constants_match_and_its_values_lie_in_the_space(config, why):
    sweep = yaml.safe_load(METHODS["bayes"] + "parameters:\n  x: {min: 0, max: 5}\n  epochs: {value: 3}\n")
    assert prior.misfit(sweep, None, trial(1, FINISHED, config, score=0.5)) == why


def test_search_options_keep_the_custom_source_text(tmp_path):
    source = tmp_path / "space.py"
    source.write_text("def f(trial):\n    trial.suggest_int('k', 0, 3)\n")
    config = {"method": "custom", "scheduler": {"engine": "optuna", "source": "space.py", "search_space": "f"}}
    settings, _ = new_settings(config, seed=None, distinct=False, prior_sweeps=[], open_sweep=None, workdir=tmp_path)  # type: ignore[arg-type]
    source.unlink()  # resume, or a controller on another host, needs no file
    assert SearchOptions.from_settings(settings).source == Source(
        "space.py", "def f(trial):\n    trial.suggest_int('k', 0, 3)\n"
    )


def test_a_store_from_before_retries_is_migrated_and_can_mark_them(tmp_path):
    store = SweepStore.create(
        tmp_path / "s", name="s", sweep_id="i", config={"method": "grid"}, source="s", settings={}
    )
    store.acquire_lease()
    start_trial(store, "r1", {"x": {"value": 1}})
    store.release_lease()
    store.close()
    # Version 3, as issue 13's stores were written: no `retried` column.
    db = sqlite3.connect(tmp_path / "s" / "sweep.db")
    db.execute("ALTER TABLE trials DROP COLUMN retried")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    migrated = SweepStore.open(tmp_path / "s")
    assert [t.retried for t in migrated.trials()] == [False]
    migrated.acquire_lease()
    migrated.mark_retried(["r1"])
    assert [t.retried for t in migrated.trials()] == [True]


def test_a_retried_trial_leaves_the_agents_counts_as_it_leaves_the_search(tmp_path):
    store = SweepStore.create(
        tmp_path / "s", name="s", sweep_id="i", config={"method": "grid"}, source="s", settings={}
    )
    store.acquire_lease()
    start_trial(store, "r1", {"x": {"value": 1}})
    store.finish_trial(
        "r1", state=CRASHED, requeued=False, exit_code=1, error="disk full", run_dir=None, history=[], summary={},
        artifacts=[], metric_value=None, metric_imputed=False,
    )  # fmt: skip
    store.mark_retried(["r1"])
    cache = TrialCache(store)
    cache.refresh()
    assert (cache.searched, cache.counts[CRASHED]) == (0, 0)  # run_cap and --max-initial-failures see no trial
