"""The epoch a run keeps is the best by its sweep's metric and goal (trainer/train.py ``restore_objective``)."""

import keras
import numpy as np
import pytest
import wandb

from contract.objectives import OBJECTIVE_VAR, Objective
from trainer.config import TrainConfig
from trainer.data import load_dataset
from trainer.model import targets
from trainer.recipe import prepare
from trainer.train import DEFAULT_RESTORE, early_stopping, restore_objective, train


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"name": "val_loss", "goal": "minimize"}', Objective("val_loss", "minimize")),
        ('{"name": "val_auroc", "goal": "maximize"}', Objective("val_auroc", "maximize")),
        ('{"name": "model_parameters", "goal": "minimize"}', DEFAULT_RESTORE),  # not a per-epoch metric
        (None, DEFAULT_RESTORE),  # outside an offline sweep
    ],
)
def test_restore_objective_is_the_sweeps_per_epoch_metric_with_its_goal(value, expected):
    assert restore_objective({} if value is None else {OBJECTIVE_VAR: value}) == expected


def test_restore_objective_refuses_a_malformed_variable():
    with pytest.raises(ValueError, match="LOCALSWEEP_OBJECTIVE must be JSON like"):
        restore_objective({OBJECTIVE_VAR: "val_loss"})


def test_early_stopping_watches_the_objective_in_its_direction():
    config = TrainConfig(epochs=4)
    stopping = early_stopping(config, Objective("val_loss", "minimize"))
    assert (stopping.monitor, stopping.mode, stopping.restore_best_weights, stopping.patience) == (
        "val_loss",
        "min",
        True,
        4,
    )
    assert early_stopping(config, DEFAULT_RESTORE).mode == "max"


@pytest.mark.slow
def test_a_sweep_ranked_by_val_loss_keeps_the_epoch_with_the_lowest_val_loss(monkeypatch, tmp_path):
    # With this seed and learning rate the lowest val_loss comes at epoch 1 and the best val_accuracy at epoch 4
    # (checked below): the kept model must be epoch 1's, not the one val_accuracy would pick.
    monkeypatch.setenv(OBJECTIVE_VAR, '{"name": "val_loss", "goal": "minimize"}')
    overrides = {"epochs": 4, "train_size": 300, "units": 16, "batch_size": 32, "learning_rate": 0.05, "seed": 2}
    try:
        result = train(overrides)
    finally:
        wandb.teardown()
    config = TrainConfig.from_mapping(overrides)
    data = load_dataset(config)
    _, split = prepare(config, data)
    model = keras.models.load_model(result.model_path)
    kept, _ = model.evaluate(split.x_val, targets(split.y_val, config, data.num_classes), verbose=0)
    from localsweep.core.runlog import read_run

    epochs = [row for row in read_run(result.run_dir).history if "val_loss" in row]
    losses = [row["val_loss"] for row in epochs]
    accuracies = [row["val_accuracy"] for row in epochs]
    assert len(losses) == 4
    assert losses.index(min(losses)) != accuracies.index(max(accuracies))
    assert kept == pytest.approx(min(losses), rel=1e-4)
    assert np.isfinite(kept)
