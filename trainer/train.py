"""One training run: the edge where wandb meets the pure data, model and metric functions."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import wandb
from sklearn.metrics import roc_auc_score
from wandb.integration.keras import WandbMetricsLogger

from contract import predictions as predictions_schema
from contract.objectives import Objective
from trainer import provenance
from trainer.config import TrainConfig
from trainer.data import check_source, load_dataset
from trainer.logged import DEFAULT_RESTORE as DEFAULT_RESTORE
from trainer.logged import MODEL_METRICS, OBJECTIVES, restore_objective
from trainer.logged import TEST_METRICS as TEST_METRICS
from trainer.model import fit, latency_ms_per_example, targets
from trainer.predictions import predictions_frame, write_predictions
from trainer.recipe import prepare

DEFAULT_PROJECT = "mnist-sweeps"


def early_stopping(config: TrainConfig, objective: Objective) -> keras.callbacks.EarlyStopping:
    """Keeps the weights of the best epoch by ``objective`` (and stops after ``early_stopping_patience`` epochs
    without a better one; 0: never stops early)."""
    return keras.callbacks.EarlyStopping(
        monitor=objective.name,
        mode="max" if objective.maximize else "min",
        patience=config.early_stopping_patience or config.epochs,
        restore_best_weights=True,
    )


@dataclass(frozen=True)
class RunResult:
    """Where a finished run left its outputs."""

    run_id: str
    run_dir: Path
    predictions_path: Path
    model_path: Path | None
    summary: dict[str, float]


def macro_auroc(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    """One-vs-rest macro AUROC over all classes, NaN when a class is absent from ``y_true``.

    >>> macro_auroc(np.array([0, 1, 1, 0]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6]]))
    0.75
    """
    classes = probabilities.shape[1]
    if np.unique(y_true).size < classes:
        return float("nan")  # undefined; sklearn would say so with a warning per epoch
    scores = probabilities.astype(np.float64)
    scores /= scores.sum(axis=1, keepdims=True)  # float32 softmax rows can miss 1 by more than sklearn allows
    if classes == 2:
        return float(roc_auc_score(y_true, scores[:, 1]))
    return float(roc_auc_score(y_true, scores, multi_class="ovr", average="macro"))


class StopRequest:
    """A signal handler that only records the signal; training then ends at the next batch boundary.

    Raising from a signal handler would unwind through whatever runs at that moment (wandb's logging, TensorFlow),
    possibly holding a lock that ``run.finish()`` then waits for; storing an attribute is safe at any moment.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        self.signum = signum


class TrainingStoppedError(Exception):
    """Training ended early on request (SIGTERM from ``wandb agent``, SIGINT from Ctrl-C or ``docker stop``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


class _StopOnRequest(keras.callbacks.Callback):
    # At the end of each batch, and of each epoch: a sweep's early termination decides at the end of an epoch
    # (the trial waits for it while logging), and the stop must land there, not a batch into the next epoch.
    def __init__(self, request: StopRequest) -> None:
        super().__init__()
        self._request = request

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._request.signum is not None:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.on_train_batch_end(-1, logs)


class ObjectiveLogger(keras.callbacks.Callback):
    """Logs the sweep objectives once per epoch, in the same history row as WandbMetricsLogger's ``epoch/*``."""

    def __init__(self, run: Any, x_val: np.ndarray, y_val: np.ndarray) -> None:
        super().__init__()
        self._run, self._x_val, self._y_val = run, x_val, y_val

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        probabilities = self.model.predict(self._x_val, batch_size=1024, verbose=0)
        row = {
            "epoch": epoch + 1,
            "val_accuracy": float(logs["val_accuracy"]),
            "val_loss": float(logs["val_loss"]),
            "val_auroc": macro_auroc(self._y_val, probabilities),
        }
        logs["val_auroc"] = row["val_auroc"]  # for EarlyStopping, later in the list, when the sweep ranks by it
        self._run.log(row, commit=False)  # WandbMetricsLogger, next in the list, commits the step


def resolve_config(run_config: Mapping[str, Any], overrides: Mapping[str, Any]) -> TrainConfig:
    """The run's config: the sweep's values (already in ``wandb.config``) win over flags, flags over defaults."""
    given = {k: v for k, v in run_config.items() if not k.startswith("_") and k != "provenance"}
    return TrainConfig.from_mapping({**overrides, **given})


def train(
    overrides: Mapping[str, Any] | None = None, *, project: str | None = None, stop: StopRequest | None = None
) -> RunResult:
    """Run one training run under ``wandb.init`` and return where its outputs are.

    ``overrides`` are the ``--key=value`` flags; inside a sweep, ``wandb.config`` (filled by the agent or the
    offline engine through ``WANDB_SWEEP_PARAM_PATH``) takes precedence. ``WANDB_MODE`` must already be set.
    ``stop``, installed as a signal handler by the caller, ends training at the next batch once it fires.

    Raises
    ------
    TrainingStoppedError
        If ``stop`` fired during training; the run is finished, marked preempted, with exit code 128 + signal.
    ValueError, FileNotFoundError
        For a bad config or dataset; the wandb run is finished with a non-zero exit code first.
    """
    overrides = dict(overrides or {})
    check_source(TrainConfig.from_mapping(overrides))  # fail before a wandb run exists on a bad flag or data file
    run = wandb.init(project=project or os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT), job_type="train")
    try:
        config = resolve_config(dict(run.config), overrides)
        # Record every field (defaults too) so the run is reproducible from its config alone.
        run.config.update(dataclasses.asdict(config), allow_val_change=True)
        result = _fit_and_log(run, config, stop or StopRequest())
    except BaseException as exc:
        code = 1
        if isinstance(exc, TrainingStoppedError | KeyboardInterrupt):
            # Stopped from outside: tell W&B the run was preempted (a sweep may run it again), not that it crashed.
            run.mark_preempting()
            code = exc.exit_code if isinstance(exc, TrainingStoppedError) else 128 + signal.SIGINT
        run.finish(exit_code=code)
        raise
    run.finish()
    return result


def _fit_and_log(run: Any, config: TrainConfig, stop: StopRequest) -> RunResult:
    data = load_dataset(config)
    model, split = prepare(config, data)
    run.config.update(
        {
            "provenance": {
                "data_source": data.source,
                "data_sha256": data.sha256,
                "code": provenance.git_revision(),
                "packages": provenance.package_versions(),
                "train_rows": int(split.x_train.shape[0]),
                "val_rows": int(split.x_val.shape[0]),
                "test_rows": int(split.x_test.shape[0]),
                **provenance.environment(restore_objective(os.environ)),
            }
        },
        allow_val_change=True,
    )
    run.define_metric("epoch")
    for name, goal in OBJECTIVES.items():
        run.define_metric(name, step_metric="epoch", summary=goal)
    for name, goal in MODEL_METRICS.items():
        run.define_metric(name, summary=goal)
    # Before training, so that a trial stopped early has them too.
    run.log(
        {"model_parameters": model.count_params(), "latency_ms_per_example": latency_ms_per_example(model, split.x_val)}
    )
    fit(
        model,
        split,
        config,
        callbacks=[
            ObjectiveLogger(run, split.x_val, split.y_val),
            early_stopping(config, restore_objective(os.environ)),
            WandbMetricsLogger(log_freq="epoch"),
            _StopOnRequest(stop),
        ],
    )
    if stop.signum is not None:
        raise TrainingStoppedError(stop.signum)
    y_test = targets(split.y_test, config, data.num_classes)
    test_loss, test_accuracy = model.evaluate(split.x_test, y_test, batch_size=1024, verbose=0)
    probabilities = model.predict(split.x_test, batch_size=1024, verbose=0)
    summary = {
        "test/accuracy": float(test_accuracy),
        "test/loss": float(test_loss),
        "test/auroc_macro": macro_auroc(split.y_test, probabilities),
    }
    run.summary.update(summary)
    return _log_outputs(run, model, config, probabilities, split.y_test, summary)


def _log_outputs(
    run: Any,
    model: keras.Model,
    config: TrainConfig,
    probabilities: np.ndarray,
    y_test: np.ndarray,
    summary: dict[str, float],
) -> RunResult:
    files = Path(run.dir)
    predictions_path = write_predictions(predictions_frame(probabilities, y_test), files)
    # policy="immutable": the artifact references the file in the run dir instead of copying it to staging.
    predictions = wandb.Artifact(
        predictions_schema.artifact_name(run.id),
        type=predictions_schema.ARTIFACT_TYPE,
        metadata=predictions_schema.artifact_metadata(summary),
    )
    predictions.add_file(str(predictions_path), policy="immutable")
    run.log_artifact(predictions)
    model_path = None
    if config.save_model:
        model_path = files / "model.keras"
        model.save(model_path)
        artifact = wandb.Artifact(f"model-{run.id}", type="model", metadata=dataclasses.asdict(config))
        artifact.add_file(str(model_path), policy="immutable")
        run.log_artifact(artifact)
    return RunResult(run.id, files.parent, predictions_path, model_path, summary)


def agent_function() -> None:
    """The pooled-mode entry: like a function given to ``wandb.agent(function=...)``, it reads ``wandb.config``.

    A bad config or dataset ends it with ``SystemExit(2)`` after one line on stderr, as ``python -m trainer`` exits
    2: the code an offline sweep reads as "this trial's parameters are refused", which stops the sweep.
    """
    try:
        train()
    except (ValueError, FileNotFoundError) as exc:
        print(f"trainer: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
