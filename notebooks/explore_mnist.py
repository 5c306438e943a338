# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # MNIST: the data, and the best run of a sweep explained
#
# 1. **Data**: the class balance of the training and test sets, the mean image of each digit, a few samples.
# 2. **A chosen run**: its confusion matrix, per-class precision and recall, ROC curves, and the misclassified test
#    images it was most sure about. Every number comes from the `analysis` package (scikit-learn underneath):
#    this notebook only calls it and draws.
#
# Choose the run in the next cell, or from outside through environment variables (CI does):
# `ANALYSE_SWEEP` (a local offline sweep's name or directory, or `ENTITY/PROJECT/SWEEP_ID` on W&B with
# `WANDB_MODE=online`), `ANALYSE_RUN` (an offline run directory) or `ANALYSE_PREDICTIONS` (a predictions file).
# With none of them, the newest local offline sweep under `LOCALSWEEP_ROOT` (default `offline_sweeps/`) is used.

# %% tags=["parameters"]
import os

SWEEP = os.environ.get("ANALYSE_SWEEP", "")
RUN_DIR = os.environ.get("ANALYSE_RUN", "")
PREDICTIONS = os.environ.get("ANALYSE_PREDICTIONS", "")
SWEEP_ROOT = os.environ.get("LOCALSWEEP_ROOT", "offline_sweeps")
SAMPLES_PER_DIGIT = 3

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, display

# The notebook lives in notebooks/; the project's packages are run from the repository root.
REPO = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "trainer").is_dir())
sys.path.insert(0, str(REPO))

from analysis import pipeline
from analysis.sources import fetch
from analysis.stats.errors import confident_errors
from trainer.config import TrainConfig
from trainer.data import load_dataset

data = load_dataset(TrainConfig())
print(f"{data.source}: {len(data.y_train)} training and {len(data.y_test)} test images, SHA-256 verified")

# %% [markdown]
# ## 1. The data
# ### Class distribution

# %%
digits = np.arange(data.num_classes)
counts = pd.DataFrame(
    {
        "train": np.bincount(data.y_train, minlength=data.num_classes),
        "test": np.bincount(data.y_test, minlength=data.num_classes),
    },
    index=pd.Index(digits, name="digit"),
)
shares = counts / counts.sum()
fig, ax = plt.subplots(figsize=(8, 3))
shares.plot.bar(ax=ax, rot=0)
ax.set_ylabel("share of the set")
ax.set_title("Digits are nearly balanced; 1 is the most common, 5 the rarest")
plt.show()
counts.T

# %% [markdown]
# ### The mean image of each digit

# %%
fig, axes = plt.subplots(1, data.num_classes, figsize=(12, 1.8))
for digit, ax in zip(digits, axes, strict=True):
    ax.imshow(data.x_train[data.y_train == digit].mean(axis=0), cmap="gray")
    ax.set_title(str(digit))
    ax.axis("off")
plt.show()

# %% [markdown]
# ### A few samples

# %%
rng = np.random.default_rng(0)
fig, axes = plt.subplots(SAMPLES_PER_DIGIT, data.num_classes, figsize=(12, 1.3 * SAMPLES_PER_DIGIT))
for digit in digits:
    picks = rng.choice(np.flatnonzero(data.y_train == digit), SAMPLES_PER_DIGIT, replace=False)
    for row, index in enumerate(picks):
        axes[row, digit].imshow(data.x_train[index], cmap="gray_r")
        axes[row, digit].axis("off")
plt.show()

# %% [markdown]
# ## 2. The chosen run

# %%
root = REPO / SWEEP_ROOT if not Path(SWEEP_ROOT).is_absolute() else Path(SWEEP_ROOT)
if PREDICTIONS:
    source = fetch.from_predictions_file(Path(PREDICTIONS))
elif RUN_DIR:
    source = fetch.from_run_dir(Path(RUN_DIR))
elif SWEEP:
    source = fetch.from_sweep(SWEEP, root)
else:
    sweeps_found = sorted(root.glob("*/sweep.db"), key=lambda p: p.stat().st_mtime)
    if not sweeps_found:
        raise ValueError(
            f"no run chosen and no offline sweep under {root}: run `make run` first, or set ANALYSE_SWEEP, "
            "ANALYSE_RUN or ANALYSE_PREDICTIONS"
        )
    source = fetch.from_offline_sweep(str(sweeps_found[-1].parent), root)

result = pipeline.analyse(source)
print(source.origin)
if source.run:
    print(f"run {source.run.run_id} ({source.run.state})")
if source.sweep:
    rank = source.sweep.rank(source.run.run_id) if source.run else None
    print(f"sweep {source.sweep.name}: rank {rank} of {len(source.sweep.scored())} by {source.sweep.metric_name}")
for note in source.notes:
    print("note:", note)

# %% [markdown]
# ### Confusion matrix

# %%
display(Image(result.images["confusion_matrix"]))

# %% [markdown]
# ### Per-class precision, recall, F1 and AUROC

# %%
m = result.metrics
per_class = pd.DataFrame(
    {
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
        "auroc": m.auroc,
        "average_precision": m.average_precision,
        "support": m.support,
    },
    index=pd.Index(m.labels, name="class"),
)
print(f"accuracy {m.accuracy:.4f}, macro AUROC {m.auroc_macro:.4f}, micro AUROC {m.auroc_micro:.4f}")
for key, reason in m.undefined.items():
    print(f"undefined: {key}: {reason}")
per_class.round(4)

# %% [markdown]
# ### ROC curves (one class against the rest)

# %%
display(Image(result.images["roc"]))

# %% [markdown]
# ### The misclassified images the model was most sure about

# %%
errors = confident_errors(result.predictions, count=10)
if errors and len(result.predictions.y_true) == len(data.y_test):
    fig, axes = plt.subplots(1, len(errors), figsize=(1.4 * len(errors), 2.0), squeeze=False)
    for ax, error in zip(axes[0], errors, strict=True):
        ax.imshow(data.x_test[error["index"]], cmap="gray_r")
        ax.set_title(f"{error['y_true']}→{error['y_pred']}\n{error['probability']:.2f}", fontsize=9)
        ax.axis("off")
    plt.show()
pd.DataFrame(errors)
