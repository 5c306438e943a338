import numpy as np
import pandas as pd
import pytest

from trainer.predictions import predictions_frame, write_predictions
from trainer.train import macro_auroc


def test_predictions_frame_columns_and_argmax():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    frame = predictions_frame(probabilities, np.array([0, 1]))
    assert list(frame.columns) == ["index", "y_true", "y_pred", "prob_0", "prob_1", "prob_2"]
    assert frame["y_pred"].tolist() == [0, 2]
    assert frame["index"].tolist() == [0, 1]


def test_predictions_frame_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"probabilities must be \(n, classes\) with n = len\(y_true\) = 3"):
        predictions_frame(np.zeros((2, 10)), np.zeros(3, np.int64))


def test_write_predictions_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=50).astype(np.float32)
    frame = predictions_frame(probabilities, rng.integers(0, 10, 50))
    path = write_predictions(frame, tmp_path)
    assert path == tmp_path / "predictions.csv"
    back = pd.read_csv(path)
    np.testing.assert_array_equal(back.filter(like="prob_").to_numpy(np.float32), probabilities)


def test_macro_auroc_known_answers():
    # binary: positives score 0.7 and 0.4, negatives 0.2 and 0.6 -> 3 of 4 pairs ranked right
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6]])
    assert macro_auroc(np.array([0, 1, 1, 0]), probabilities) == pytest.approx(0.75, abs=1e-12)
    perfect = np.eye(3)[[0, 1, 2, 0]] * 0.9 + 0.1 / 3
    assert macro_auroc(np.array([0, 1, 2, 0]), perfect) == pytest.approx(1.0, abs=1e-12)


def test_macro_auroc_is_nan_when_a_class_is_absent():
    assert np.isnan(macro_auroc(np.array([0, 0, 1]), np.full((3, 3), 1 / 3)))
