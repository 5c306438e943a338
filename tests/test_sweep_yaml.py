"""Every sweep YAML is valid by W&B's own schema and names only config fields and metrics the trainer logs."""

from pathlib import Path

import pytest
import yaml
from sweeps.config import schema_violations_from_proposed_config

from contract.objectives import objectives
from localsweep.search.custom.source import Source
from localsweep.search.suggest import SearchOptions, suggest
from localsweep.search.validate import check_sweep_config
from tests.conftest import REPO_ROOT
from trainer.config import TrainConfig
from trainer.train import MODEL_METRICS, OBJECTIVES

SWEEP_FILES = sorted((REPO_ROOT / "sweeps").glob("*.yaml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_sweeps_folder_holds_the_studies_and_no_package():
    studies = {"grid.yaml", "random.yaml", "bayes.yaml", "pareto.yaml", "conditional.yaml"}
    assert {p.name for p in SWEEP_FILES} >= studies
    assert not (REPO_ROOT / "sweeps" / "__init__.py").exists(), "sweeps/__init__.py would shadow W&B's `sweeps` package"


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_passes_wandb_schema(path):
    assert schema_violations_from_proposed_config(_load(path)) == []


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_runs_offline_as_written(path):
    check_sweep_config(_load(path), str(path), pooled=False, workdir=REPO_ROOT)


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_parameters_are_config_fields_and_build_a_valid_config(path):
    config = _load(path)
    assert set(config["parameters"]) <= set(TrainConfig.field_names())
    source = Source.read(config.get("scheduler") or {}, REPO_ROOT)
    # Several seeds: a define-by-run space has branches (an MLP's units, a CNN's filters), each must be valid.
    for seed in range(8):
        suggestion = suggest(config, [], SearchOptions(seed=seed, source=source))
        assert suggestion is not None
        TrainConfig.from_mapping({k: v["value"] for k, v in suggestion.items()})


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_metrics_are_logged_by_the_trainer_with_their_goal(path):
    logged = {**OBJECTIVES, **MODEL_METRICS}
    for objective in objectives(_load(path)):
        assert objective.name in logged
        assert objective.goal == {"max": "maximize", "min": "minimize"}[logged[objective.name]]


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_command_runs_the_trainer_module(path):
    config = _load(path)
    assert (REPO_ROOT / config["program"]).is_file()
    assert config["command"] == ["${env}", "${interpreter}", "-m", "trainer", "${args}"]


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_sweep_yaml_has_no_number_read_as_a_string(path):
    # PyYAML reads 1e-5 as the string "1e-5", which W&B rejects: write 1.0e-5.
    def strings(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    for text in strings(_load(path)["parameters"]):
        with pytest.raises(ValueError, match="could not convert string to float"):
            float(text)


def test_grid_is_finite_and_small():
    config = _load(REPO_ROOT / "sweeps" / "grid.yaml")
    points = 1
    for spec in config["parameters"].values():
        assert set(spec) <= {"value", "values"}
        points *= len(spec.get("values", [None]))
    assert points <= 12
