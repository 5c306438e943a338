"""Read and validate a predictions table (CSV or Parquet) into numpy arrays, batch by batch.

The table has one row per example and the columns ``index, y_true, y_pred, prob_<class> ...``: one probability
column per class, whose integer suffixes define the class set. Every rule a table can break raises a
``ValueError`` that states the rule, the offending value (with its row) and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROW_SUM_TOLERANCE = 1e-3
_PROB_COLUMN = re.compile(r"^prob_(-?\d+)$")
_BATCH_ROWS = 1 << 20
_FIX_PROBS = "write softmax probabilities (e.g. keras `model.predict`), not logits or scores"


@dataclass(frozen=True)
class Predictions:
    """Validated predictions: ``labels[k]`` is the class of ``proba[:, k]``; targets are class *codes*.

    Attributes
    ----------
    labels : numpy.ndarray
        Sorted integer class labels, shape ``(n_classes,)``.
    index : numpy.ndarray
        The ``index`` column (which test example each row is), shape ``(n_rows,)``.
    y_true, y_pred : numpy.ndarray
        Codes into ``labels`` (``labels[y_true]`` is the true class), shape ``(n_rows,)``.
    proba : numpy.ndarray
        Probabilities, shape ``(n_rows, n_classes)``; rows sum to 1 within ``ROW_SUM_TOLERANCE``.
    """

    labels: np.ndarray
    index: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of examples."""
        return int(self.y_true.shape[0])


def class_labels(columns: list[str]) -> np.ndarray:
    """Return the sorted class labels named by the ``prob_<class>`` columns, checking the required columns.

    Examples
    --------
    >>> class_labels(["index", "y_true", "y_pred", "prob_1", "prob_0"]).tolist()
    [0, 1]
    """
    missing = [name for name in ("index", "y_true", "y_pred") if name not in columns]
    labels = sorted(int(match.group(1)) for name in columns if (match := _PROB_COLUMN.match(name)))
    if missing:
        raise ValueError(
            f"a predictions table needs the columns index, y_true, y_pred and prob_<class>, but {missing} "
            f"{'is' if len(missing) == 1 else 'are'} missing (found {columns}); fix: write those columns"
        )
    if len(labels) < 2:
        raise ValueError(
            f"a predictions table needs one prob_<class> column per class (at least 2, integer class "
            f"labels), but found {len(labels)} in {columns}; fix: write one probability column per class"
        )
    if len(set(labels)) != len(labels):
        raise ValueError(f"each class needs exactly one prob_<class> column, but {columns} repeats one")
    return np.asarray(labels, dtype=np.int64)


def validate_batch(
    labels: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, first_row: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Check one batch of rows and return ``(y_true, y_pred)`` as codes into ``labels``.

    Examples
    --------
    >>> labels = np.array([0, 1])
    >>> codes = validate_batch(labels, np.array([0, 1]), np.array([1, 1]), np.array([[0.4, 0.6], [0.1, 0.9]]))
    >>> [c.tolist() for c in codes]
    [[0, 1], [1, 1]]
    >>> validate_batch(labels, np.array([0, 1]), np.array([1, 1]), np.array([[2.0, -1.0], [0.1, 0.9]]))
    Traceback (most recent call last):
    ...
    ValueError: probabilities must lie in [0, 1], but prob_0 = 2.0 at row 0 (this looks like logits or \
scores); fix: write softmax probabilities (e.g. keras `model.predict`), not logits or scores
    """
    n_rows = y_true.shape[0]
    if proba.ndim != 2 or proba.shape != (n_rows, labels.shape[0]) or y_pred.shape != (n_rows,):
        raise ValueError(
            f"y_true, y_pred and the probabilities must have one row per example and one probability per "
            f"class, but got shapes {y_true.shape}, {y_pred.shape} and {proba.shape} for "
            f"{labels.shape[0]} classes; fix: give arrays of shapes (n,), (n,) and (n, {labels.shape[0]})"
        )
    bad = ~np.isfinite(proba)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"probabilities must be finite numbers, but prob_{labels[col]} = {proba[row, col]} at row "
            f"{first_row + row}; fix: {_FIX_PROBS}"
        )
    bad = (proba < 0) | (proba > 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"probabilities must lie in [0, 1], but prob_{labels[col]} = {proba[row, col]} at row "
            f"{first_row + row} (this looks like logits or scores); fix: {_FIX_PROBS}"
        )
    sums = proba.sum(axis=1)
    bad_rows = np.flatnonzero(np.abs(sums - 1) > ROW_SUM_TOLERANCE)
    if bad_rows.size:
        row = bad_rows[0]
        raise ValueError(
            f"each row's probabilities must sum to 1 (within {ROW_SUM_TOLERANCE}), but row {first_row + row} "
            f"sums to {sums[row]:.6g} ({bad_rows.size} rows off in this batch); fix: {_FIX_PROBS}"
        )
    return _codes(labels, y_true, "y_true", first_row), _codes(labels, y_pred, "y_pred", first_row)


def _codes(labels: np.ndarray, values: np.ndarray, column: str, first_row: int) -> np.ndarray:
    codes = np.searchsorted(labels, values).clip(0, labels.shape[0] - 1)
    outside = labels[codes] != values
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"every {column} label must be one of the classes {labels.tolist()} named by the prob_<class> "
            f"columns, but row {first_row + row} has {column} = {values[row]}; fix: add a prob_{values[row]} "
            f"column or correct the label"
        )
    return codes.astype(np.int32)


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    if path.suffix.lower() == ".parquet":
        yield from pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS)
        return
    read_options = pa_csv.ReadOptions(block_size=64 << 20)
    yield from pa_csv.open_csv(path, read_options=read_options)


def _integer_column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    column = batch.column(name)
    if not pa.types.is_integer(column.type):
        raise ValueError(
            f"column {name} must hold integers, but its type is {column.type} (first value "
            f"{column[0].as_py()!r}); fix: write integer class labels / row numbers"
        )
    if column.null_count:
        raise ValueError(f"column {name} must have no empty cells, but it has {column.null_count}")
    return column.to_numpy()


def read_predictions(path: Path) -> Predictions:
    """Read a predictions CSV or Parquet file batch by batch, validating every batch.

    Parquet is read column-wise in row groups; CSV with Arrow's streaming reader. Peak memory is the final
    arrays plus about one batch.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = path.write_text("index,y_true,y_pred,prob_0,prob_1\\n0,1,1,0.25,0.75\\n1,0,1,0.4,0.6\\n")
    >>> read_predictions(path).y_pred.tolist()
    [1, 1]
    """
    if not path.is_file():
        raise ValueError(f"the predictions file must exist, but {path} does not; fix: check the path")
    if path.stat().st_size == 0:
        raise ValueError(f"the predictions file must not be empty, but {path} has 0 bytes")
    parts: list[tuple[np.ndarray, ...]] = []
    labels = np.empty(0, dtype=np.int64)
    first_row = 0
    try:
        for batch in _batches(path):
            if not parts:
                labels = class_labels(batch.schema.names)
            proba = _proba(batch, labels)
            y_true, y_pred = validate_batch(
                labels, _integer_column(batch, "y_true"), _integer_column(batch, "y_pred"), proba, first_row
            )
            parts.append((_integer_column(batch, "index"), y_true, y_pred, proba))
            first_row += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(
            f"a predictions table must be a valid CSV or Parquet file with numeric columns, but reading "
            f"{path} failed: {error}; fix: rewrite the file"
        ) from None
    if first_row == 0:
        raise ValueError(f"the predictions table must have at least one row, but {path} has none")
    index, y_true, y_pred, proba = (np.concatenate(column) for column in zip(*parts, strict=True))
    return Predictions(labels=labels, index=index, y_true=y_true, y_pred=y_pred, proba=proba)


def _proba(batch: pa.RecordBatch, labels: np.ndarray) -> np.ndarray:
    proba = np.empty((batch.num_rows, labels.shape[0]), dtype=np.float64)
    for k, label in enumerate(labels):
        column = batch.column(f"prob_{label}")
        if pa.types.is_null(column.type):  # every cell empty: reported as non-finite by validate_batch
            proba[:, k] = np.nan
            continue
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise ValueError(
                f"column prob_{label} must hold numbers, but its type is {column.type} (first value "
                f"{column[0].as_py()!r}); fix: {_FIX_PROBS}"
            )
        proba[:, k] = column.to_numpy(zero_copy_only=False)
    return proba
