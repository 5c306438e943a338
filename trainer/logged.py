"""What the trainer logs under fixed names, and which epoch it keeps: plain values, no TensorFlow, so the rerun
(``trainer/rerun.py``) and the sweep checks read them without importing Keras."""

from __future__ import annotations

from collections.abc import Mapping

from contract.objectives import Objective, from_environment

OBJECTIVES = {"val_accuracy": "max", "val_loss": "min", "val_auroc": "max"}
"""What the trainer logs once per epoch under fixed names; a sweep's ``metric.name`` must be one of these, or of
:data:`MODEL_METRICS`."""
MODEL_METRICS = {"model_parameters": "min", "latency_ms_per_example": "min"}
"""What the trainer logs once per run, before training, for multi-objective sweeps (accuracy against size or
speed): the model's parameter count and its inference time per example (``trainer.model.latency_ms_per_example``)."""
TEST_METRICS = ("test/accuracy", "test/loss", "test/auroc_macro")
DEFAULT_RESTORE = Objective("val_accuracy", "maximize")
"""The epoch a run keeps when its sweep names no per-epoch objective (or it runs outside an offline sweep)."""


def restore_objective(environ: Mapping[str, str]) -> Objective:
    """The metric and goal that choose the epoch whose weights the run keeps (and that early stopping watches):
    the sweep's primary objective when the offline engine names one of :data:`OBJECTIVES`, else
    :data:`DEFAULT_RESTORE` — so the predictions a report explains come from the epoch the sweep ranked.

    >>> restore_objective({"LOCALSWEEP_OBJECTIVE": '{"name": "val_loss", "goal": "minimize"}'})
    Objective(name='val_loss', goal='minimize', target=None)
    >>> restore_objective({}).name
    'val_accuracy'
    """
    objective = from_environment(environ)
    return objective if objective is not None and objective.name in OBJECTIVES else DEFAULT_RESTORE
