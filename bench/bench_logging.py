"""Logging cost: the trainer's epoch and run time against a bare ``model.fit`` of the same model and data.

Same config everywhere (the trainer's defaults: MLP 128 units, dropout 0.2, Adam 1e-3, batch 128, seed 0, op
determinism on) with ``--train-size`` rows and ``--epochs`` epochs. Per epoch (a timer callback, last in the list,
measures from one epoch's end to the next, so every callback's work is inside):

- ``bare``: ``model.fit(..., validation_data=...)``, no callbacks;
- ``+ val AUROC``: the trainer's ``ObjectiveLogger`` (predict the validation rows, sklearn AUROC, ``run.log``);
- ``+ WandbMetricsLogger``: W&B's Keras callback alone;
- ``trainer callbacks``: exactly the trainer's list (``ObjectiveLogger``, ``EarlyStopping``, ``WandbMetricsLogger``).

wandb runs are offline (``wandb.init`` before, ``finish`` after: not inside the epochs). Then whole runs: ``bare
run`` = load + split + build + fit + test evaluate + predict, no wandb; ``trainer.train`` = the trainer's whole run
(wandb init, provenance, the callbacks above, test metrics, predictions CSV and artifact, finish).

Run from the repository root::

    .venv/bin/python bench/bench_logging.py --train-size 20000 --epochs 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable

from bench.bench_orchestration import environment  # noqa: E402

VARIANTS = ("bare", "+ val AUROC", "+ WandbMetricsLogger", "trainer callbacks")


def _timed_hook(hook: Callable[..., None], seconds: list[float]) -> Callable[..., None]:
    def timed(*args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        hook(*args, **kwargs)
        seconds.append(time.perf_counter() - start)

    return timed


def epoch_times(variant: str, config: Any, data: Any, costs: dict[str, list[float]]) -> list[float]:
    """Seconds of each epoch of one fit with the variant's callbacks (a fresh model, same seed: the trainer's recipe).

    ``costs`` collects seconds per call of each callback's ``on_epoch_end`` and of ``wandb.init``/``finish``.
    """
    import keras
    import wandb
    from wandb.integration.keras import WandbMetricsLogger

    from trainer.model import fit
    from trainer.recipe import prepare
    from trainer.train import ObjectiveLogger

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.marks: list[float] = []

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.marks.append(time.perf_counter())

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.marks.append(time.perf_counter())

    model, split = prepare(config, data)
    start = time.perf_counter()
    run = None if variant == "bare" else wandb.init(project="bench-logging", config={"variant": variant})
    if run is not None:
        costs.setdefault("wandb.init", []).append(time.perf_counter() - start)
    callbacks: list[keras.callbacks.Callback] = []
    if variant in ("+ val AUROC", "trainer callbacks"):
        callbacks.append(ObjectiveLogger(run, split.x_val, split.y_val))
    if variant == "trainer callbacks":
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.epochs))
    if variant in ("+ WandbMetricsLogger", "trainer callbacks"):
        callbacks.append(WandbMetricsLogger(log_freq="epoch"))
    for callback in callbacks:
        name = f"{type(callback).__name__}.on_epoch_end"
        callback.on_epoch_end = _timed_hook(callback.on_epoch_end, costs.setdefault(name, []))
    timer = Timer()
    fit(model, split, config, callbacks=[*callbacks, timer])
    if run is not None:
        start = time.perf_counter()
        run.finish()
        costs.setdefault("run.finish", []).append(time.perf_counter() - start)
    return [b - a for a, b in zip(timer.marks, timer.marks[1:], strict=False)]


def bare_run(config: Any) -> None:
    """What a run is without wandb: load, the trainer's recipe (seed, split, build, compile), fit, test evaluate and
    predict."""
    from trainer.data import load_dataset
    from trainer.model import fit
    from trainer.recipe import prepare

    model, split = prepare(config, load_dataset(config))
    fit(model, split, config)
    model.evaluate(split.x_test, split.y_test, batch_size=1024, verbose=0)
    model.predict(split.x_test, batch_size=1024, verbose=0)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(train_size: int, epochs: int, repeats: int) -> dict[str, Any]:
    """Epoch times per variant and whole-run times, ``repeats`` rounds, variants interleaved within a round."""
    from trainer.config import TrainConfig
    from trainer.data import load_dataset, split_dataset
    from trainer.train import train

    overrides = {"train_size": train_size, "epochs": epochs, "save_model": False}
    config = TrainConfig.from_mapping(overrides)
    data = load_dataset(config)
    costs: dict[str, list[float]] = {}
    epoch_times("bare", TrainConfig.from_mapping({**overrides, "epochs": 1}), data, {})  # warm-up: 1st fit in process
    epochs_by: dict[str, list[list[float]]] = {v: [] for v in VARIANTS}
    runs: dict[str, list[float]] = {"bare run": [], "trainer.train": []}
    loads = []
    for _ in range(repeats):
        for variant in VARIANTS:
            epochs_by[variant].append(epoch_times(variant, config, data, costs))
        runs["bare run"].append(_timed(lambda: bare_run(config)))
        runs["trainer.train"].append(_timed(lambda: train(overrides, project="bench-logging")))
        loads.append(os.getloadavg()[0])
    return {
        "epochs": epochs_by,
        "costs": costs,
        "runs": runs,
        "loadavg_1min": loads,
        "train_rows": int(split_dataset(data, train_size, config.validation_split, config.seed).x_train.shape[0]),
    }


def print_tables(result: dict[str, Any]) -> None:
    """Seconds per epoch (epoch 1 apart: it traces the model) and per run, with ratios to the bare fit."""
    later = {v: [t for run in runs for t in run[1:]] for v, runs in result["epochs"].items()}
    first = {v: [run[0] for run in runs] for v, runs in result["epochs"].items()}
    base, base_first = statistics.median(later["bare"]), statistics.median(first["bare"])
    print("| variant | s/epoch, epochs 2+ (median [min-max]) | ratio to bare | extra s/epoch | epoch 1 s |")
    print("|---|---|---|---|---|")
    for variant in VARIANTS:
        med, med_first = statistics.median(later[variant]), statistics.median(first[variant])
        print(
            f"| {variant} | {med:.3f} [{min(later[variant]):.3f}-{max(later[variant]):.3f}] | {med / base:.2f}x | "
            f"{med - base:+.3f} | {med_first:.2f} ({med_first - base_first:+.2f}) |"
        )
    print("\n| measured alone (all variants) | calls | s per call (median [min-max]) |\n|---|---|---|")
    for name, values in result["costs"].items():
        print(f"| {name} | {len(values)} | {statistics.median(values):.4f} [{min(values):.4f}-{max(values):.4f}] |")
    bare = statistics.median(result["runs"]["bare run"])
    print("\n| whole run | s (median [min-max]) | ratio to bare run |\n|---|---|---|")
    for name, values in result["runs"].items():
        med = statistics.median(values)
        print(f"| {name} | {med:.2f} [{min(values):.2f}-{max(values):.2f}] | {med / bare:.2f}x |")
    print(f"\nload average (1 min) after each round: {[round(x, 1) for x in result['loadavg_1min']]}")


def main() -> None:
    """Measure and print the tables, then the raw numbers as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(environment(Path(tmp)))
        result = measure(args.train_size, args.epochs, args.repeats)
    print(f"cpus: {len(os.sched_getaffinity(0))}; train rows {result['train_rows']}, {args.epochs} epochs\n")
    print_tables(result)
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
