"""Optuna's TPESampler + HyperbandPruner on the benchmark's search space, driving the trainer's own functions.

The same work per trial as the trainer: ``trainer.config.TrainConfig`` from the suggested values, the trainer's
recipe (``trainer.recipe.prepare``: seed, split, build, compile), ``trainer.model.fit`` for up to ``epochs``
epochs. A Keras callback reports ``val_accuracy`` per epoch to the
Optuna trial and raises ``optuna.TrialPruned`` when the pruner says so. What the trainer does and this does not:
wandb logging, the per-epoch validation AUROC, the test-set evaluation and predictions file (see BENCHMARKS.md).

Run by ``bench/bench_search.py`` in a fresh process per study::

    .venv/bin/python bench/optuna_search.py --seed 0 --trials 16    # prints one JSON line per trial
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE = REPO_ROOT / "bench" / "search_space.yaml"


def suggest(trial: Any, name: str, spec: dict[str, Any]) -> Any:
    """The Optuna suggestion for one W&B sweep parameter (the distributions the benchmark's space uses).

    Raises
    ------
    ValueError
        For a W&B distribution this translation does not cover.
    """
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return trial.suggest_categorical(name, spec["values"])
    kind = spec.get("distribution")
    if kind == "int_uniform":
        return trial.suggest_int(name, spec["min"], spec["max"])
    if kind in ("uniform", "log_uniform_values"):
        return trial.suggest_float(name, spec["min"], spec["max"], log=kind == "log_uniform_values")
    raise ValueError(
        f"parameter {name!r}: distribution {kind!r} has no Optuna translation here; use values, value, "
        "int_uniform, uniform or log_uniform_values"
    )


def run_study(
    seed: int, trials: int, min_resource: int, reduction_factor: int, emit: Callable[[dict[str, Any]], None]
) -> None:
    """Run one study; ``emit`` gets one record per trial as it ends (number, state, best val_accuracy, epochs, s)."""
    import keras
    import optuna

    from trainer.config import TrainConfig
    from trainer.data import load_dataset
    from trainer.model import fit
    from trainer.recipe import prepare

    space = yaml.safe_load(SPACE.read_text())["parameters"]
    space["seed"] = {"value": seed}
    data = load_dataset(TrainConfig())  # once per study; every trial of the trainer reads it again (~0.5 s)

    class ReportToOptuna(keras.callbacks.Callback):
        def __init__(self, trial: optuna.Trial, accuracies: list[float]) -> None:
            super().__init__()
            self._trial, self._accuracies = trial, accuracies

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._accuracies.append(float((logs or {})["val_accuracy"]))
            self._trial.report(self._accuracies[-1], epoch + 1)
            if self._trial.should_prune():
                raise optuna.TrialPruned()

    def objective(trial: optuna.Trial) -> float:
        start, state = time.perf_counter(), "complete"
        accuracies: list[float] = []
        config = TrainConfig.from_mapping({name: suggest(trial, name, spec) for name, spec in space.items()})
        try:
            model, split = prepare(config, data)
            fit(model, split, config, callbacks=[ReportToOptuna(trial, accuracies)])
        except optuna.TrialPruned:
            state = "pruned"
            raise
        finally:
            emit(
                {
                    "trial": trial.number + 1,
                    "state": state,
                    "val_accuracy": max(accuracies, default=None),
                    "epochs": len(accuracies),
                    "wall_s": time.perf_counter() - start,
                    "config": trial.params,
                }
            )
        return max(accuracies)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=space["epochs"]["value"], reduction_factor=reduction_factor
        ),
    )
    study.optimize(objective, n_trials=trials)


def main() -> None:
    """Run one study and print its trial records as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--min-resource", type=int, default=1, help="as hyperband's min_iter in W&B")
    parser.add_argument("--reduction-factor", type=int, default=3, help="as hyperband's eta in W&B")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable
    run_study(
        args.seed,
        args.trials,
        args.min_resource,
        args.reduction_factor,
        lambda record: print(json.dumps(record), flush=True),
    )


if __name__ == "__main__":
    main()
