"""Define-by-run search spaces for sweeps with ``method: custom`` (``scheduler.search_space``).

Each function receives an Optuna trial, suggests the TrainConfig fields it wants (each suggestion becomes a config
key of the trial) and returns None; localsweep's ``custom/source.py`` states the contract. These express what W&B's
flat ``parameters`` block cannot: parameters that exist only for some values of another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the trainer runs without Optuna; only the sweep controller calls these
    from optuna.trial import BaseTrial


def mlp_or_cnn(trial: BaseTrial) -> None:
    """An MLP with its width, or a CNN with its filter count; depth and dropout for both."""
    if trial.suggest_categorical("model", ["mlp", "cnn"]) == "cnn":
        trial.suggest_categorical("filters", [8, 16, 32])
    else:
        trial.suggest_categorical("units", [64, 128, 256])
    trial.suggest_int("num_layers", 1, 2)
    trial.suggest_float("dropout_rate", 0.0, 0.5)
