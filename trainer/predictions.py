"""Write the predictions table (its contract: ``contract.predictions``), the file the analysis reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contract import predictions as schema


def predictions_frame(probabilities: np.ndarray, y_true: np.ndarray) -> pd.DataFrame:
    """``index, y_true, y_pred, prob_0 … prob_{k-1}`` from softmax outputs and true labels.

    >>> predictions_frame(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([0, 0]))
       index  y_true  y_pred  prob_0  prob_1
    0      0       0       0     0.9     0.1
    1      1       0       1     0.3     0.7

    Raises
    ------
    ValueError
        If the shapes disagree.
    """
    if probabilities.ndim != 2 or probabilities.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"probabilities must be (n, classes) with n = len(y_true) = {y_true.shape[0]}, "
            f"but got {probabilities.shape}"
        )
    frame = pd.DataFrame(
        {
            schema.INDEX: np.arange(len(y_true)),
            schema.Y_TRUE: y_true.astype(np.int64),
            schema.Y_PRED: probabilities.argmax(axis=1).astype(np.int64),
        }
    )
    labels = range(probabilities.shape[1])
    probs = pd.DataFrame(probabilities, columns=[schema.prob_column(k) for k in labels])
    return pd.concat([frame, probs], axis=1)


def write_predictions(frame: pd.DataFrame, directory: Path) -> Path:
    """Write ``predictions.csv`` into ``directory`` (full float precision) and return its path."""
    path = Path(directory) / schema.FILE_NAME
    # %.9g round-trips every float32 exactly (Keras' softmax outputs are float32).
    frame.to_csv(path, index=False, float_format="%.9g")
    return path
