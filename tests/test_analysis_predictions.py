"""analysis.sources.predictions: reading CSV and Parquet, and every bad table rejected with its rule, value and fix."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.sources import predictions
from analysis.sources.predictions import read_predictions, validate_batch

GOOD = "index,y_true,y_pred,prob_0,prob_1,prob_2\n0,0,0,0.7,0.2,0.1\n1,2,1,0.1,0.5,0.4\n2,1,1,0.2,0.8,0.0\n"


def _write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_predictions_csv_known_values(tmp_path):
    p = read_predictions(_write(tmp_path, GOOD))
    assert p.labels.tolist() == [0, 1, 2]
    assert (p.y_true.tolist(), p.y_pred.tolist(), p.index.tolist()) == ([0, 2, 1], [0, 1, 1], [0, 1, 2])
    assert p.proba.tolist() == [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.2, 0.8, 0.0]]


def test_read_predictions_parquet_equals_csv(tmp_path):
    csv = _write(tmp_path, GOOD)
    parquet = tmp_path / "p.parquet"
    pd.read_csv(csv).to_parquet(parquet)
    a, b = read_predictions(csv), read_predictions(parquet)
    for name in ("labels", "index", "y_true", "y_pred", "proba"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_read_predictions_maps_non_contiguous_labels_to_codes(tmp_path):
    p = read_predictions(_write(tmp_path, "index,y_true,y_pred,prob_3,prob_7\n0,7,3,0.6,0.4\n"))
    assert (p.labels.tolist(), p.y_true.tolist(), p.y_pred.tolist()) == ([3, 7], [1], [0])


def test_read_predictions_reports_rows_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(predictions, "_BATCH_ROWS", 100)
    frame = pd.DataFrame({"index": range(1000), "y_true": 0, "y_pred": 0, "prob_0": 0.9, "prob_1": 0.1})
    frame.loc[750, "prob_0"] = 0.2
    frame.to_parquet(tmp_path / "p.parquet", row_group_size=100)
    with pytest.raises(ValueError, match=r"row 750 sums to 0\.3"):
        read_predictions(tmp_path / "p.parquet")
    frame.loc[750, "prob_0"] = 0.9
    frame.to_parquet(tmp_path / "p.parquet", row_group_size=100)
    assert read_predictions(tmp_path / "p.parquet").n_rows == 1000


BAD_TABLES = [
    ("", "must not be empty, but .* has 0 bytes"),
    ("index,y_true,y_pred,prob_0,prob_1\n", "must have at least one row"),
    ("index,y_true,prob_0,prob_1\n0,0,0.5,0.5\n", r"\['y_pred'\] is missing"),
    ("index,y_true,y_pred,prob_0\n0,0,0,1.0\n", "at least 2, integer class labels.*found 1"),
    ("index,y_true,y_pred,prob_a,prob_b\n0,0,0,0.5,0.5\n", r"but found prob_a; fix: name each class by its integer"),
    # The prefix is the writer's: prob_00 is not how class 0's column is spelt, and would be looked up as prob_0.
    ("index,y_true,y_pred,prob_00,prob_01\n0,0,0,0.5,0.5\n", r"but found prob_00; fix: rename it prob_0\b"),
    ("index,y_true,y_pred,prob_0,prob_+1\n0,0,0,0.5,0.5\n", r"but found prob_\+1; fix: rename it prob_1\b"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,,0.5\n", r"must be finite numbers, but prob_0 = nan at row 0"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,nan,0.5\n", r"must be finite numbers, but prob_0 = nan at row 0"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.5,0.5\n1,1,1,-0.2,1.2\n", r"prob_0 = -0.2 at row 1 .*logits"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,2.3,-1.1\n", r"\[0, 1\], but prob_0 = 2.3 at row 0 .*softmax"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.5,0.4\n", r"sum to 1 \(within 0.001\), but row 0 sums to 0.9"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,5,0,0.5,0.5\n", r"classes \[0, 1\].*row 0 has y_true = 5.*prob_5"),
    # A missing prob_ column is named, not blamed on rows that do not sum to 1: inside the labels ...
    ("index,y_true,y_pred,prob_0,prob_2\n0,0,0,0.5,0.2\n", r"but prob_1 is missing between prob_0 and prob_2"),
    # ... or the last one, which a label shows.
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.6,0.3\n1,2,0,0.7,0.2\n", r"row 1 has y_true = 2; fix: add a prob_2"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,-1,0.5,0.5\n", r"row 0 has y_pred = -1"),
    (
        "index,y_true,y_pred,prob_0,prob_1\n0,0.5,0,0.5,0.5\n",
        "column y_true must hold integers, but its type is double",
    ),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,x,0.5\n", "column prob_0 must hold numbers, but its type is string"),
    ("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.5,0.5,9\n", "valid CSV or Parquet file.*Expected 5 columns"),
]


@pytest.mark.parametrize(("text", "match"), BAD_TABLES)
def test_read_predictions_rejects_bad_tables(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_predictions(_write(tmp_path, text))


def test_read_predictions_refuses_zero_padded_prob_columns_of_ten_classes(tmp_path):
    frame = pd.DataFrame({"index": range(20), "y_true": np.arange(20) % 10, "y_pred": np.arange(20) % 10})
    for k in range(10):
        frame[f"prob_{k:02d}"] = 0.1
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    refusal = r"as the trainer writes it, prob_<label>.*, but found prob_00; fix: rename it prob_0 "
    for path in (tmp_path / "p.csv", tmp_path / "p.parquet"):
        with pytest.raises(ValueError, match=refusal):
            read_predictions(path)


def test_read_predictions_rejects_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"must exist, but .*nope\.csv does not"):
        read_predictions(tmp_path / "nope.csv")


def test_read_predictions_says_a_directory_is_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r"must be a CSV or Parquet file, but .* is a directory; fix: pass the table"):
        read_predictions(tmp_path)


def _binary(tmp_path: Path) -> dict[str, bytes]:
    csv = GOOD.encode()
    parquet = tmp_path / "real.parquet"
    pd.read_csv(io.BytesIO(csv)).to_parquet(parquet)
    return {
        "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        "gzip": gzip.compress(csv * 50),
        "random": np.random.default_rng(0).bytes(4000),
        "parquet": parquet.read_bytes(),
        "latin-1": "index,y_true,y_pred,prob_0,prob_1,Größe\n0,0,0,0.5,0.5,1\n".encode("latin-1"),
    }


@pytest.mark.parametrize("kind", ["png", "gzip", "random", "parquet", "latin-1"])
def test_read_predictions_refuses_a_binary_file_without_printing_its_bytes(tmp_path, kind):
    path = tmp_path / "p.csv"
    path.write_bytes(_binary(tmp_path)[kind])
    with pytest.raises(
        ValueError, match=r"must be a CSV \(UTF-8 text\) or Parquet file, but .*p\.csv is not text"
    ) as error:
        read_predictions(path)
    message = str(error.value)
    assert message.isascii(), message
    assert message.isprintable(), message
    assert len(message) < 400, message
    if kind == "parquet":
        assert message.endswith("(it is a Parquet file); fix: name it p.parquet")


def test_read_predictions_rejects_a_non_parquet_file(tmp_path):
    with pytest.raises(ValueError, match="valid CSV or Parquet file"):
        read_predictions(_write(tmp_path, "not parquet at all", name="p.parquet"))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "proba"),
    [
        (np.array([0, 1]), np.array([0, 1]), np.array([0.5, 0.5])),
        (np.array([0, 1]), np.array([0]), np.array([[0.5, 0.5], [0.5, 0.5]])),
        (np.array([0, 1]), np.array([0, 1]), np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])),
        (np.array([0, 1]), np.array([0, 1]), np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])),
    ],
)
def test_validate_batch_rejects_wrong_shapes(y_true, y_pred, proba):
    with pytest.raises(ValueError, match=r"one row per example and one probability per class.*shapes \(n,\)"):
        validate_batch(np.array([0, 1]), y_true, y_pred, proba)


def test_a_missing_prob_column_of_ten_is_named(tmp_path):
    rng = np.random.default_rng(0)
    # No row is a 7, so only the row sums show the gap (a label 7 would be named by the label check).
    frame = pd.DataFrame({"index": range(50), "y_true": rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 9], 50), "y_pred": 0})
    proba = rng.dirichlet(np.ones(10), size=50)
    for k in range(10):
        if k != 7:
            frame[f"prob_{k}"] = proba[:, k]
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(ValueError, match=r"needs one prob_<class> column per class, but prob_7 is missing") as error:
        read_predictions(tmp_path / "p.csv")
    assert "logits" not in str(error.value)


def test_table_notes_report_argmax_disagreements_and_repeated_index(tmp_path):
    text = "index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.9,0.1\n1,1,0,0.3,0.7\n1,1,1,0.5,0.5\n2,0,1,0.6,0.4\n"
    notes = predictions.table_notes(read_predictions(_write(tmp_path, text)))
    assert notes == [
        "y_pred is not the argmax of the probabilities in 2 of 4 rows (first: row 1, index 1, y_pred 0, argmax 1): "
        "the metrics use y_pred as written; the curves, calibration and AUROC use the probabilities",
        "index repeats: 1 value(s) appear more than once (first: 1, 2 times), 4 rows for 3 distinct examples",
    ]
    assert predictions.table_notes(read_predictions(_write(tmp_path, GOOD))) == []
