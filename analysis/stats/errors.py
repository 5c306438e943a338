"""Errors you can look at: the most frequent (true, predicted) pairs and the most confident mistakes."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.sources.predictions import Predictions


def top_confusions(confusion: np.ndarray, labels: list[int], count: int = 10) -> list[dict[str, Any]]:
    """The ``count`` off-diagonal cells of the confusion matrix with the most rows, largest first.

    ``share_of_class`` is the cell over its true class's rows, ``share_of_errors`` over all misclassified rows.

    Examples
    --------
    >>> top_confusions(np.array([[5, 3, 0], [1, 4, 0], [0, 0, 2]]), [0, 1, 2], count=2)
    [{'true': 0, 'predicted': 1, 'count': 3, 'share_of_class': 0.375, 'share_of_errors': 0.75}, \
{'true': 1, 'predicted': 0, 'count': 1, 'share_of_class': 0.2, 'share_of_errors': 0.25}]
    """
    errors = confusion.copy()
    np.fill_diagonal(errors, 0)
    total = errors.sum()
    support = confusion.sum(axis=1)
    cells = np.argsort(-errors, axis=None, kind="stable")[:count]
    rows, cols = np.unravel_index(cells, errors.shape)
    return [
        {
            "true": labels[row],
            "predicted": labels[col],
            "count": int(errors[row, col]),
            "share_of_class": float(errors[row, col] / support[row]),
            "share_of_errors": float(errors[row, col] / total),
        }
        for row, col in zip(rows, cols, strict=True)
        if errors[row, col] > 0
    ]


def confident_errors(predictions: Predictions, count: int = 10) -> list[dict[str, Any]]:
    """The ``count`` misclassified rows with the highest probability on the wrong class, most confident first.

    Examples
    --------
    >>> p = Predictions(np.array([0, 1]), np.array([7, 8]), np.array([0, 1]), np.array([1, 1]),
    ...                 np.array([[0.1, 0.9], [0.2, 0.8]]))
    >>> confident_errors(p)
    [{'index': 7, 'y_true': 0, 'y_pred': 1, 'probability': 0.9, 'probability_true': 0.1}]
    """
    wrong = np.flatnonzero(predictions.y_true != predictions.y_pred)
    confidence = predictions.proba[wrong, predictions.y_pred[wrong]]
    top = wrong[np.argsort(-confidence, kind="stable")[:count]]
    return [
        {
            "index": int(predictions.index[row]),
            "y_true": int(predictions.labels[predictions.y_true[row]]),
            "y_pred": int(predictions.labels[predictions.y_pred[row]]),
            "probability": float(predictions.proba[row, predictions.y_pred[row]]),
            "probability_true": float(predictions.proba[row, predictions.y_true[row]]),
        }
        for row in top
    ]
