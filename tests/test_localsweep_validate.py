"""Sweep YAML validation: W&B's schema plus the traps W&B only finds later, every violation at once."""

from __future__ import annotations

import pytest
import yaml

from localsweep.search.validate import SweepConfigError, check_sweep_config, load_sweep_config, sweep_violations
from tests.conftest import REPO_ROOT

MALFORMED = """
method: grd
metric: {name: acc, goal: up}
run_cap: -1
parameters:
  lr: {min: 1e-5, max: 0.1}
  units: {values: 3}
  opt: {distribution: uniform, min: 0.1, max: 0.01}
"""


def test_sweep_violations_lists_every_problem_with_its_key_path():
    found = sweep_violations(yaml.safe_load(MALFORMED), pooled=False, workdir=REPO_ROOT)
    assert found == [
        "method: 'grd' is not one of ['bayes', 'random', 'grid', 'custom']",
        "metric.goal: 'up' is not one of ['minimize', 'maximize']",
        "parameters.lr: {'min': '1e-5', 'max': 0.1} is not valid under any of the given schemas",
        "parameters.units: {'values': 3} is not valid under any of the given schemas",
        "run_cap: -1 is less than or equal to the minimum of 0",
        "parameters.opt: min 0.1 is not less than max 0.01",
        "parameters.lr.min: '1e-5' is a string, because YAML 1.1 (PyYAML, which W&B uses) reads numbers in this "
        "form as text; write 1.0e-5 (with a dot and a signed exponent)",
        "program: the command uses ${program} but `program:` is not set; set it or use --function",
    ]


@pytest.mark.parametrize(
    ("text", "fixed"),
    [("1e-5", "1.0e-5"), ("3e4", "3.0e+4"), ("2.5E3", "2.5e+3")],
)
def test_sweep_violations_names_the_number_yaml_read_as_text(text, fixed):
    config = {"method": "random", "parameters": {"lr": {"values": [text, 0.1]}}}
    (message,) = sweep_violations(config, pooled=True, workdir=REPO_ROOT)
    assert message.startswith(f"parameters.lr.values.0: '{text}' is a string")
    assert f"write {fixed} " in message


def test_sweep_violations_rejects_continuous_distributions_in_a_grid_nested_too():
    config = {
        "method": "grid",
        "parameters": {
            "lr": {"distribution": "uniform", "min": 0.0, "max": 0.1},
            "units": {"values": [1, 2]},
            "block": {"parameters": {"p": {"values": [1, 2], "probabilities": [0.5, 0.5]}}},
        },
    }
    found = sweep_violations(config, pooled=True, workdir=REPO_ROOT)
    assert [m.split(":")[0] for m in found] == ["parameters.block.p", "parameters.lr"]
    assert "'uniform' distribution" in found[1]


def test_sweep_violations_needs_a_metric_for_bayes_and_a_program_that_exists():
    config = {"method": "bayes", "program": "no/such.py", "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    assert sweep_violations(config, pooled=False, workdir=REPO_ROOT) == [
        "metric: bayes search and early_terminate need `metric: {name: ..., goal: ...}`",
        f"program: 'no/such.py' does not exist relative to {REPO_ROOT}; run from the project root",
    ]


@pytest.mark.parametrize("name", ["grid", "random", "bayes"])
def test_check_sweep_config_accepts_the_project_sweeps(name):
    path = REPO_ROOT / "sweeps" / f"{name}.yaml"
    check_sweep_config(load_sweep_config(path), str(path), pooled=False, workdir=REPO_ROOT)


def test_load_sweep_config_reports_unquoted_macros(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("command: [${env}, python]\n")
    with pytest.raises(SweepConfigError, match=r"(?s)not valid YAML.*a \$\{...\} macro must be quoted"):
        load_sweep_config(path)


def test_load_sweep_config_hints_at_macros_only_where_the_error_is(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("parameters: {x: [1, 2}\ncommand: ['${env}', '${program}']\n")
    with pytest.raises(SweepConfigError, match="not valid YAML") as raised:
        load_sweep_config(path)
    assert "macro" not in str(raised.value)
