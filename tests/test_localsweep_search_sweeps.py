"""Whole sweeps through the CLI for what issue 11 added: method custom (Optuna) with one metric and several,
define-by-run, pruning, resume --retry-crashed, --distinct, --prior-sweep. The tiny echo program stands in for
TensorFlow (real wandb, offline); pooled mode keeps each trial well under a second."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import pytest

from localsweep.cli.main import main
from localsweep.core.trial import Trial
from localsweep.storage.store import SweepStore
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_FUNCTION, ECHO_PROGRAM, python_m

SPACES = "tests/localsweep_programs/spaces.py"

pytestmark = pytest.mark.slow


def sweep_yaml(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"program: {ECHO_PROGRAM}\n{text}")
    return path


def localsweep(env: dict[str, str], tmp_path: Path, *args: str | Path, check: int = 0) -> subprocess.CompletedProcess:
    done = python_m("localsweep", env, *args, "--root", tmp_path / "sweeps")
    assert done.returncode == check, done.stderr
    return done


def ask(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str, check: int = 0) -> tuple[str, str]:
    """A read-only command (status, best) in-process: no interpreter start-up per question."""
    assert main([*args, "--root", str(tmp_path / "sweeps")]) == check
    captured = capsys.readouterr()
    return captured.out, captured.err


def trials(tmp_path: Path, name: str) -> list[Trial]:
    return SweepStore.open(tmp_path / "sweeps" / name).trials()


CUSTOM = "method: custom\nscheduler: {engine: optuna}\n"


def test_custom_single_objective_runs_the_wandb_yaml_reproducibly_with_a_seed(tmp_path, subprocess_env, capsys):
    path = sweep_yaml(
        tmp_path,
        CUSTOM + "metric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n"
        "  k: {values: [1, 2]}\n  block: {parameters: {depth: {distribution: int_uniform, min: 1, max: 3}}}\n",
    )
    for name in ("a", "b"):
        localsweep(subprocess_env, tmp_path, "run", path, "--name", name, "--count", "4", "--seed", "7",
                   "--function", ECHO_FUNCTION)  # fmt: skip
    first, second = trials(tmp_path, "a"), trials(tmp_path, "b")
    assert [t.params for t in first] == [t.params for t in second]
    assert [t.state for t in first] == ["finished"] * 4
    for t in first:
        assert t.metric_value == pytest.approx(t.config["x"])  # echo logs score = x
        assert 1 <= t.config["block"]["depth"] <= 3
    best = json.loads(ask(capsys, tmp_path, "best", "a", "--json")[0])
    assert best["config"]["x"] == max(t.config["x"] for t in first)


def test_custom_define_by_run_space_suggests_conditional_parameters(tmp_path, subprocess_env):
    source = tmp_path / "spaces.py"
    source.write_text((REPO_ROOT / SPACES).read_text())
    path = sweep_yaml(
        tmp_path,
        f"method: custom\nscheduler: {{engine: optuna, source: {source}, search_space: shaped}}\n"
        "metric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n",
    )
    localsweep(subprocess_env, tmp_path, "run", path, "--name", "d", "--count", "6", "--seed", "1",
               "--function", ECHO_FUNCTION)  # fmt: skip
    source.unlink()
    # resume rebuilds every stored trial's distributions by calling shaped() again, from the text kept in the store
    localsweep(subprocess_env, tmp_path, "resume", "d", "--count", "2")
    configs = [t.config for t in trials(tmp_path, "d")]
    assert len(configs) == 8
    assert {c["shape"] for c in configs} == {"flat", "steep"}
    for config in configs:
        assert ("k" in config) == (config["shape"] == "steep")


def test_custom_multi_objective_reports_the_pareto_front(tmp_path, subprocess_env, capsys):
    path = sweep_yaml(
        tmp_path,
        CUSTOM + "metrics: [{name: score, goal: maximize}, {name: cost, goal: minimize}]\n"
        "parameters:\n  x: {min: 0.0, max: 1.0}\n  k: {values: [0, 1, 2]}\n",
    )
    localsweep(subprocess_env, tmp_path, "run", path, "--name", "m", "--count", "8", "--seed", "1",
               "--function", ECHO_FUNCTION)  # fmt: skip
    done = trials(tmp_path, "m")
    front = json.loads(ask(capsys, tmp_path, "best", "m", "--json")[0])["pareto_front"]
    values = {t.run_id: (t.config["x"], t.config["x"] ** 2 + t.config["k"]) for t in done}  # score, cost
    on_front = {row["run_id"] for row in front}
    for run_id, (score, cost) in values.items():
        beaten = any(s >= score and c <= cost and (s, c) != (score, cost) for s, c in values.values())
        assert (run_id in on_front) == (not beaten)
    for row in front:
        assert row["metrics"]["score"] == pytest.approx(values[row["run_id"]][0])
        assert row["metrics"]["cost"] == pytest.approx(values[row["run_id"]][1])
    cheapest, _ = ask(capsys, tmp_path, "best", "m", "--metric", "cost")
    assert cheapest.startswith(f"best of m: {min(values, key=lambda r: values[r][1])} cost=")
    status, _ = ask(capsys, tmp_path, "status", "m")
    assert f"* the Pareto front: {len(front)} trial(s)" in status
    header = next(line for line in status.splitlines() if line.startswith("#"))
    assert header.split()[:6] == ["#", "run", "id", "state", "score", "cost"]
    _, refused = ask(capsys, tmp_path, "best", "m", "--metric", "loss", check=2)
    assert refused.startswith("error: --metric 'loss' is not a metric of this sweep; it has: score, cost")


def test_custom_pruner_stops_trials_below_the_median_of_the_finished_ones(tmp_path, subprocess_env):
    path = sweep_yaml(
        tmp_path,
        f"method: custom\nscheduler: {{engine: optuna, source: {SPACES}, optimizer: median}}\n"
        "metric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {min: 0.0, max: 1.0}\n  epochs: {value: 5}\n  sleep: {value: 0.3}\n",
    )
    localsweep(subprocess_env, tmp_path, "run", path, "--name", "p", "--count", "8", "--seed", "1",
               "--function", ECHO_FUNCTION)  # fmt: skip
    done = trials(tmp_path, "p")
    # score = x * step: a trial's value at every step is below the median of the finished trials' at that step
    # exactly when x is below the median of their x. MedianPruner(n_startup_trials=2); one worker, in order.
    for i, t in enumerate(done):
        finished = [u.config["x"] for u in done[:i] if u.state == "finished"]
        expected = "stopped" if len(finished) >= 2 and t.config["x"] < statistics.median(finished) else "finished"
        assert t.state == expected, (i, t.config["x"], finished)
        if t.state == "stopped":
            assert len(t.history) < 5
    assert any(t.state == "stopped" for t in done)


@pytest.mark.backend
def test_retry_crashed_runs_the_failed_grid_point_again_and_keeps_the_old_attempt(tmp_path, subprocess_env, capsys):
    path = sweep_yaml(
        tmp_path, "method: grid\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {values: [1, 2, 3]}\n"
    )
    broken = {**subprocess_env, "ECHO_FAIL_X": "2"}  # a cause outside the sweep, fixed by unsetting it
    localsweep(broken, tmp_path, "run", path, "--name", "g", "--function", ECHO_FUNCTION)
    assert [(t.config["x"], t.state) for t in trials(tmp_path, "g")] == [
        (1, "finished"),
        (2, "crashed"),
        (3, "finished"),
    ]
    resumed = localsweep(subprocess_env, tmp_path, "resume", "g", "--retry-crashed")
    assert "retrying 1 crashed trial(s)" in resumed.stderr
    after = trials(tmp_path, "g")
    assert [(t.config["x"], t.state, t.retried) for t in after] == [
        (1, "finished", False),
        (2, "crashed", True),  # the old attempt stays in the record, with its error
        (3, "finished", False),
        (2, "finished", False),
    ]
    assert "asked to fail with x=2" in (after[1].error or "")
    status, _ = ask(capsys, tmp_path, "status", "g")
    assert "crashed (retried)" in status
    again = localsweep(subprocess_env, tmp_path, "resume", "g", "--retry-crashed")
    assert "retrying 0 crashed trial(s)" in again.stderr
    assert len(trials(tmp_path, "g")) == 4


def test_distinct_random_search_runs_each_point_once_and_ends_when_exhausted(tmp_path, subprocess_env):
    path = sweep_yaml(
        tmp_path,
        "method: random\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {values: [1, 2, 3]}\n"
        "  tag: {values: [a, b]}\n",
    )
    done = localsweep(subprocess_env, tmp_path, "run", path, "--name", "r", "--distinct", "--seed", "0",
                      "--function", ECHO_FUNCTION)  # fmt: skip
    assert "space exhausted (--distinct): every configuration has run" in done.stderr
    points = [(t.config["x"], t.config["tag"]) for t in trials(tmp_path, "r")]
    assert sorted(points) == [(x, tag) for x in (1, 2, 3) for tag in ("a", "b")]
    refused = localsweep(subprocess_env, tmp_path, "run", sweep_yaml(tmp_path, "method: random\nparameters:\n  x: "
                         "{min: 0.0, max: 1.0}\n", "c.yaml"), "--distinct", check=2)  # fmt: skip
    assert "parameters.x: --distinct needs a discrete space" in refused.stderr


@pytest.mark.backend
def test_prior_sweep_warm_starts_bayes_from_the_first_suggestion(tmp_path, subprocess_env):
    grid = sweep_yaml(
        tmp_path,
        "method: grid\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {values: [0.1, 0.3, 0.5, 0.7, 0.9]}\n",
        "grid.yaml",
    )
    localsweep(subprocess_env, tmp_path, "run", grid, "--name", "earlier", "--function", ECHO_FUNCTION)
    bayes = sweep_yaml(
        tmp_path, "method: bayes\nmetric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n"
    )
    first = {}
    for name, extra in (("cold", []), ("warm", ["--prior-sweep", "earlier"])):
        done = localsweep(subprocess_env, tmp_path, "run", bayes, "--name", name, "--count", "1", "--seed", "0",
                          "--function", ECHO_FUNCTION, *extra)  # fmt: skip
        (only,) = trials(tmp_path, name)
        first[name] = only.config["x"]
    assert "--prior-sweep earlier: 5 of 5 trials" in done.stderr
    # Cold, bayes draws at random until it has two results; warm, it models the five earlier ones (score = x).
    assert first["warm"] > 0.9
    assert first["warm"] != first["cold"]


# The claims of four workers at once, on each backend: random stands for every search method there.
@pytest.mark.backend
def test_run_cap_and_count_never_overshoot_with_4_random_workers(tmp_path, subprocess_env):
    run_cap_and_count_never_overshoot_with_4_workers(tmp_path, subprocess_env, "random")


@pytest.mark.parametrize("method", ["bayes", "custom"])
def test_run_cap_and_count_never_overshoot_with_4_workers(tmp_path, subprocess_env, method):
    run_cap_and_count_never_overshoot_with_4_workers(tmp_path, subprocess_env, method)


def run_cap_and_count_never_overshoot_with_4_workers(tmp_path: Path, env: dict[str, str], method: str) -> None:
    # Four trials start at once; the cap is met while three others are still running, and nothing more starts.
    search = CUSTOM if method == "custom" else f"method: {method}\n"
    body = "metric: {name: score, goal: maximize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n  sleep: {value: 0.3}\n"
    capped = sweep_yaml(tmp_path, search + "run_cap: 6\n" + body, "capped.yaml")
    localsweep(env, tmp_path, "run", capped, "--name", "cap", "--workers", "4", "--seed", "3",
               "--function", ECHO_FUNCTION)  # fmt: skip
    assert len(trials(tmp_path, "cap")) == 6
    localsweep(env, tmp_path, "resume", "cap", "--workers", "4")  # the cap is reached: nothing runs
    assert len(trials(tmp_path, "cap")) == 6

    uncapped = sweep_yaml(tmp_path, search + body, "uncapped.yaml")
    localsweep(env, tmp_path, "run", uncapped, "--name", "count", "--workers", "4", "--count", "5",
               "--seed", "3", "--function", ECHO_FUNCTION)  # fmt: skip
    assert len(trials(tmp_path, "count")) == 5
    localsweep(env, tmp_path, "resume", "count", "--workers", "4", "--count", "2")
    assert len(trials(tmp_path, "count")) == 7
    assert {t.state for t in trials(tmp_path, "cap") + trials(tmp_path, "count")} == {"finished"}
