"""The predictions table's contract, in one place: what ``python -m trainer`` writes and ``python -m analysis`` reads.

One row per test example, with the columns

- ``index``: the example's position in the dataset's test split (the image is ``x_test[index]``);
- ``y_true``, ``y_pred``: integer class labels; ``y_pred`` is the argmax of the row's probabilities;
- ``prob_<class>``: one column per class (integer label in the name): the model's probability of that class.
  Each value lies in [0, 1] and each row sums to 1 within ``ROW_SUM_TOLERANCE``.

The trainer writes the table as ``FILE_NAME`` in the run's files and logs it as a W&B artifact of type
``ARTIFACT_TYPE`` named ``artifact_name(run_id)``, whose metadata carries ``VERSION_KEY: VERSION``.
Standard library only, so the analysis can read with it without importing TensorFlow (or the trainer's model).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

VERSION = 1
"""Raise when a column's meaning changes; readers refuse versions they do not know."""
VERSION_KEY = "predictions_schema"
FILE_NAME = "predictions.csv"
ARTIFACT_TYPE = "predictions"
INDEX, Y_TRUE, Y_PRED = "index", "y_true", "y_pred"
REQUIRED = (INDEX, Y_TRUE, Y_PRED)
PROB_PREFIX = "prob_"
ROW_SUM_TOLERANCE = 1e-3
"""Softmax outputs in float32 sum to 1 within ~1e-6; anything further off is not a probability row."""

_PROB_COLUMN = re.compile(rf"^{PROB_PREFIX}([-+]?\d+)$")


def prob_column(label: int) -> str:
    """The probability column of class ``label``.

    >>> prob_column(3)
    'prob_3'
    """
    return f"{PROB_PREFIX}{label}"


def class_of(column: str) -> int | None:
    """The class label a ``prob_<class>`` column names, or ``None`` for a column without the ``prob_`` prefix.

    The prefix belongs to the class columns: a column that has it must be spelt as ``prob_column`` writes it, since
    readers look each class's column up by that spelling (``prob_00`` would read as class 0, then be looked up as
    ``prob_0``, and two spellings of one class would be ambiguous).

    Raises
    ------
    ValueError
        If the column has the prefix but is not ``prob_column`` of an integer label.

    Examples
    --------
    >>> class_of("prob_7"), class_of("prob_-1"), class_of("y_true")
    (7, -1, None)
    >>> class_of("prob_07")
    Traceback (most recent call last):
    ...
    ValueError: each prob_ column must name one class as the trainer writes it, prob_<label> with an integer \
label (no leading zeros, no '+': prob_0, prob_12, prob_-1), but found prob_07; fix: rename it prob_7 (and any \
other prob_ column the same way)
    """
    if not column.startswith(PROB_PREFIX):
        return None
    match = _PROB_COLUMN.match(column)
    label = int(match.group(1)) if match else None
    if label is not None and prob_column(label) == column:
        return label
    fix = (
        "name each class by its integer label (prob_0, prob_1, ...), mapping class names to integers"
        if label is None
        else f"rename it {prob_column(label)} (and any other {PROB_PREFIX} column the same way)"
    )
    raise ValueError(
        f"each {PROB_PREFIX} column must name one class as the trainer writes it, {PROB_PREFIX}<label> with an "
        f"integer label (no leading zeros, no '+': {PROB_PREFIX}0, {PROB_PREFIX}12, {PROB_PREFIX}-1), but found "
        f"{column}; fix: {fix}"
    )


def columns(labels: Iterable[int]) -> list[str]:
    """Every column of a table over the classes ``labels``, in the order the trainer writes them.

    >>> columns([0, 1])
    ['index', 'y_true', 'y_pred', 'prob_0', 'prob_1']
    """
    return [*REQUIRED, *(prob_column(label) for label in labels)]


def artifact_name(run_id: str) -> str:
    """The name of a run's predictions artifact.

    >>> artifact_name("abc123")
    'predictions-abc123'
    """
    return f"{ARTIFACT_TYPE}-{run_id}"


def artifact_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The artifact's metadata: the run's test metrics and the schema version the table follows.

    >>> artifact_metadata({"test/accuracy": 0.97})
    {'predictions_schema': 1, 'test/accuracy': 0.97}
    """
    return {VERSION_KEY: VERSION, **summary}


def version_of(metadata: Mapping[str, Any] | None) -> int:
    """The schema version an artifact's metadata declares; tables logged before it was recorded are version 1.

    Raises
    ------
    ValueError
        If the version is not one this code reads.

    Examples
    --------
    >>> version_of({"predictions_schema": 1}), version_of(None)
    (1, 1)
    >>> version_of({"predictions_schema": 2})
    Traceback (most recent call last):
    ...
    ValueError: the predictions table must follow schema version 1, but its artifact declares \
predictions_schema=2; fix: update this checkout to the trainer's version
    """
    version = (metadata or {}).get(VERSION_KEY, 1)
    if version != VERSION:
        raise ValueError(
            f"the predictions table must follow schema version {VERSION}, but its artifact declares "
            f"{VERSION_KEY}={version!r}; fix: update this checkout to the trainer's version"
        )
    return VERSION
