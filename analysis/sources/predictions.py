"""Read and validate a predictions table (CSV or Parquet) into numpy arrays, batch by batch.

The table's contract is ``contract.predictions``: one row per example, the columns ``index, y_true, y_pred,
prob_<class> ...``, one probability column per class, whose integer suffixes define the class set. Every rule a
table can break raises a ``ValueError`` that states the rule, the offending value (with its row) and the fix; what
is allowed but suspicious (a ``y_pred`` that is not the argmax, a repeated ``index``) becomes a note.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from contract import predictions as schema

_BATCH_ROWS = 1 << 18  # Arrow holds ~170 MB of decoded Parquet at this batch size (~340 MB at 1M rows)
_TEXT_PROBE = 1 << 16  # bytes of a CSV checked to be text before Arrow parses it
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
        Probabilities (float64), shape ``(n_rows, n_classes)``; rows sum to 1 within the schema's tolerance.
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
    missing = [name for name in schema.REQUIRED if name not in columns]
    labels = sorted(label for name in columns if (label := schema.class_of(name)) is not None)
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

    Labels are checked before the row sums: a missing ``prob_<class>`` column shows first as a label with no
    column, and is then named as such instead of as rows that do not sum to 1.

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
    codes = _codes(labels, y_true, schema.Y_TRUE, first_row), _codes(labels, y_pred, schema.Y_PRED, first_row)
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
    bad_rows = np.flatnonzero(np.abs(sums - 1) > schema.ROW_SUM_TOLERANCE)
    if bad_rows.size:
        row = bad_rows[0]
        gaps = sorted(set(range(labels[0], labels[-1] + 1)) - set(labels.tolist()))
        if gaps:
            missing = ", ".join(schema.prob_column(label) for label in gaps)
            raise ValueError(
                f"a predictions table needs one prob_<class> column per class, but {missing} "
                f"{'is' if len(gaps) == 1 else 'are'} missing between {schema.prob_column(labels[0])} and "
                f"{schema.prob_column(labels[-1])}, and row {first_row + row} sums to {sums[row]:.6g} without "
                f"it; fix: write every class's probability column"
            )
        raise ValueError(
            f"each row's probabilities must sum to 1 (within {schema.ROW_SUM_TOLERANCE}), but row "
            f"{first_row + row} sums to {sums[row]:.6g} ({bad_rows.size} rows off in this batch; the columns are "
            f"{[schema.prob_column(label) for label in labels.tolist()]}); fix: write one probability column "
            f"per class, and {_FIX_PROBS}"
        )
    return codes


def _codes(labels: np.ndarray, values: np.ndarray, column: str, first_row: int) -> np.ndarray:
    codes = np.searchsorted(labels, values).clip(0, labels.shape[0] - 1)
    outside = labels[codes] != values
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"every {column} label must be one of the classes {labels.tolist()} named by the prob_<class> "
            f"columns, but row {first_row + row} has {column} = {values[row]}; fix: add a "
            f"{schema.prob_column(values[row])} column or correct the label"
        )
    return codes.astype(np.int32)


def _printable(text: str) -> str:
    """``text`` with control characters and undecodable bytes (U+FFFD) escaped: Arrow's parse errors quote the
    offending row, which must not reach the terminal raw.

    >>> _printable("got 2: a\\x1bb\\ufffd")
    'got 2: a\\\\x1bb\\\\ufffd'
    """
    return "".join(c if c.isprintable() and c != "\ufffd" else c.encode("unicode_escape").decode() for c in text)


def _check_text(path: Path) -> None:
    """Refuse a file read as CSV whose start is not UTF-8 text (a NUL byte, or bytes UTF-8 cannot decode), naming
    the first such byte instead of letting Arrow quote the bytes as a row."""
    with path.open("rb") as file:
        head = file.read(_TEXT_PROBE)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _TEXT_PROBE)
        offset = head.find(b"\x00")
    except UnicodeDecodeError as error:
        offset = error.start if b"\x00" not in head[: error.start] else head.find(b"\x00")
    if offset < 0:
        return
    why, fix = f"byte {offset} is 0x{head[offset]:02x}", "write the table as CSV text (UTF-8) or as Parquet"
    if head.startswith(b"PAR1"):
        why, fix = "it is a Parquet file", f"name it {path.with_suffix('.parquet').name}"
    elif head.startswith(b"\x1f\x8b"):
        why, fix = "it is gzip-compressed", "decompress it (gunzip)"
    raise ValueError(
        f"a predictions table must be a CSV (UTF-8 text) or Parquet file, but {path} is not text ({why}); fix: {fix}"
    )


def _batches(path: Path) -> tuple[int | None, Iterator[pa.RecordBatch]]:
    """The number of rows when the file says (Parquet), and its batches."""
    if path.suffix.lower() == ".parquet":
        # pre_buffer would read every row group ahead: 0.9 GB of buffers for 10M rows on top of the arrays.
        parquet = pq.ParquetFile(path, pre_buffer=False)
        return parquet.metadata.num_rows, parquet.iter_batches(batch_size=_BATCH_ROWS)
    _check_text(path)
    read_options = pa_csv.ReadOptions(block_size=64 << 20)
    return None, iter(pa_csv.open_csv(path, read_options=read_options))


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


class _Columns:
    """The table's arrays, filled batch by batch: preallocated when the row count is known (Parquet), so the
    peak is the final arrays plus one batch; otherwise (CSV) gathered and concatenated once."""

    def __init__(self, n_rows: int | None, n_classes: int) -> None:
        self.filled = 0
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._arrays: tuple[np.ndarray, ...] | None = None
        if n_rows is not None:
            self._arrays = (
                np.empty(n_rows, np.int64),
                np.empty(n_rows, np.int32),
                np.empty(n_rows, np.int32),
                np.empty((n_rows, n_classes), np.float64),
            )

    def add(self, *columns: np.ndarray) -> None:
        rows = columns[0].shape[0]
        if self._arrays is None:
            self._parts.append(columns)
        else:
            for target, column in zip(self._arrays, columns, strict=True):
                target[self.filled : self.filled + rows] = column
        self.filled += rows

    def arrays(self) -> tuple[np.ndarray, ...]:
        if self._arrays is not None:
            return self._arrays
        return tuple(np.concatenate(column) for column in zip(*self._parts, strict=True))


def read_predictions(path: Path) -> Predictions:
    """Read a predictions CSV or Parquet file batch by batch, validating every batch.

    Parquet is read column-wise in row groups; CSV with Arrow's streaming reader. Peak memory is the final
    arrays plus about one batch (CSV: twice the final arrays, while they are joined).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = path.write_text("index,y_true,y_pred,prob_0,prob_1\\n0,1,1,0.25,0.75\\n1,0,1,0.4,0.6\\n")
    >>> read_predictions(path).y_pred.tolist()
    [1, 1]
    """
    if path.is_dir():
        raise ValueError(
            f"the predictions file must be a CSV or Parquet file, but {path} is a directory; fix: pass the table "
            f"file inside it (e.g. {path / schema.FILE_NAME}), or a run directory as --run"
        )
    if not path.is_file():
        raise ValueError(f"the predictions file must exist, but {path} does not; fix: check the path")
    if path.stat().st_size == 0:
        raise ValueError(f"the predictions file must not be empty, but {path} has 0 bytes")
    columns: _Columns | None = None
    labels = np.empty(0, dtype=np.int64)
    try:
        n_rows, batches = _batches(path)
        for batch in batches:
            if columns is None:
                labels = class_labels(batch.schema.names)
                columns = _Columns(n_rows, labels.shape[0])
            proba = _proba(batch, labels)
            y_true, y_pred = validate_batch(
                labels,
                _integer_column(batch, schema.Y_TRUE),
                _integer_column(batch, schema.Y_PRED),
                proba,
                columns.filled,
            )
            columns.add(_integer_column(batch, schema.INDEX), y_true, y_pred, proba)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"a predictions table must be a valid CSV or Parquet file with numeric columns, but reading "
            f"{path} failed: {_printable(str(error))}; fix: rewrite the file"
        ) from None
    if columns is None or columns.filled == 0:
        raise ValueError(f"the predictions table must have at least one row, but {path} has none")
    index, y_true, y_pred, proba = columns.arrays()
    # Arrow's allocator (mimalloc) keeps the freed batches' pages: hand them back before the metrics need memory.
    pa.default_memory_pool().release_unused()
    return Predictions(labels=labels, index=index, y_true=y_true, y_pred=y_pred, proba=proba)


def _proba(batch: pa.RecordBatch, labels: np.ndarray) -> np.ndarray:
    proba = np.empty((batch.num_rows, labels.shape[0]), dtype=np.float64)
    for k, label in enumerate(labels):
        column = batch.column(schema.prob_column(label))
        if pa.types.is_null(column.type):  # every cell empty: reported as non-finite by validate_batch
            proba[:, k] = np.nan
            continue
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise ValueError(
                f"column {schema.prob_column(label)} must hold numbers, but its type is {column.type} (first "
                f"value {column[0].as_py()!r}); fix: {_FIX_PROBS}"
            )
        proba[:, k] = column.to_numpy(zero_copy_only=False)
    return proba


def table_notes(predictions: Predictions) -> list[str]:
    """What the table allows but a reader should know: ``y_pred`` that is not an argmax of the probabilities,
    and ``index`` values that repeat (the rows may not be distinct test examples).

    A ``y_pred`` tied with the largest probability counts as an argmax.

    Examples
    --------
    >>> p = Predictions(np.array([0, 1]), np.array([4, 4, 5]), np.array([0, 1, 1]), np.array([0, 0, 1]),
    ...                 np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]))
    >>> for note in table_notes(p): print(note)
    y_pred is not the argmax of the probabilities in 1 of 3 rows (first: row 1, index 4, y_pred 0, argmax 1): \
the metrics use y_pred as written; the curves, calibration and AUROC use the probabilities
    index repeats: 1 value(s) appear more than once (first: 4, 2 times), 3 rows for 2 distinct examples
    """
    notes = []
    proba = predictions.proba
    chosen = np.take_along_axis(proba, predictions.y_pred[:, None].astype(np.intp), axis=1)[:, 0]
    off = np.flatnonzero(chosen < proba.max(axis=1))
    if off.size:
        row = int(off[0])
        notes.append(
            f"{schema.Y_PRED} is not the argmax of the probabilities in {off.size} of {predictions.n_rows} rows "
            f"(first: row {row}, index {predictions.index[row]}, {schema.Y_PRED} "
            f"{predictions.labels[predictions.y_pred[row]]}, argmax {predictions.labels[np.argmax(proba[row])]}): "
            f"the metrics use {schema.Y_PRED} as written; the curves, calibration and AUROC use the probabilities"
        )
    ordered = np.sort(predictions.index)
    same_as_next = ordered[1:] == ordered[:-1]
    if same_as_next.any():
        first = ordered[int(np.argmax(same_as_next))]
        # A value repeats when it equals the next one and is not a continuation of the previous run.
        repeated = int(np.sum(same_as_next[1:] & ~same_as_next[:-1])) + int(same_as_next[0])
        distinct = predictions.n_rows - int(same_as_next.sum())
        notes.append(
            f"{schema.INDEX} repeats: {repeated} value(s) appear more than once (first: {first}, "
            f"{int(np.sum(predictions.index == first))} times), {predictions.n_rows} rows for {distinct} distinct "
            f"examples"
        )
    return notes
