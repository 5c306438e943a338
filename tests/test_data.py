import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.data import MNIST_SHA256, Dataset, check_arrays, load_dataset, sha256_of, split_dataset


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_dataset(TrainConfig())


def test_bundled_mnist_is_the_original(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    assert mnist.sha256 == MNIST_SHA256
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_npz_file_source_gives_the_same_data(mnist, tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    loaded = load_dataset(TrainConfig(data_source="file", data_path=str(path)))
    assert loaded.sha256 == MNIST_SHA256
    assert loaded.source == f"file:{path}"


def test_missing_dataset_file_says_which(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match=r"dataset file not found: data_path='.*nope.npz'"):
        load_dataset(TrainConfig(data_source="file", data_path=str(path)))


def test_corrupt_dataset_file_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(ValueError, match=r"not a readable \.npz archive"):
        load_dataset(TrainConfig(data_source="file", data_path=str(path)))


def test_modified_mnist_fails_its_digest(mnist, tmp_path):
    x_test = mnist.x_test.copy()
    x_test[0, 0, 0] ^= 1
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=x_test, y_test=mnist.y_test)
    with pytest.raises(ValueError, match=r"not the original MNIST: SHA-256 of \['x_test'\] differ"):
        load_dataset(TrainConfig(data_source="file", data_path=str(path)))


def test_npz_without_the_keras_arrays_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"must hold the arrays .* but \['x_test', 'x_train', 'y_test', 'y_train'\]"):
        load_dataset(TrainConfig(data_source="file", data_path=str(path)))


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x_train": np.zeros((2, 28, 28), np.float32)}, r"x_train must be uint8 of shape \(n, 28, 28\)"),
        ({"y_train": np.zeros(3, np.uint8)}, r"y_train must be integer labels of shape \(2,\)"),
        ({"y_test": np.array([0, 10], np.uint8)}, r"y_test labels must lie in \[0, 10\)"),
    ],
)
def test_check_arrays_names_the_broken_array(arrays, match):
    good = {
        "x_train": np.zeros((2, 28, 28), np.uint8),
        "y_train": np.zeros(2, np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.zeros(2, np.uint8),
    }
    with pytest.raises(ValueError, match=match):
        check_arrays({**good, **arrays}, "fashion_mnist", "test")


def test_sha256_of_is_the_digest_of_the_raw_bytes():
    assert sha256_of(np.zeros(0, np.uint8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_split_is_seeded_sized_and_scaled(mnist):
    split = split_dataset(mnist, train_size=300, validation_split=0.1, seed=7)
    again = split_dataset(mnist, train_size=300, validation_split=0.1, seed=7)
    other = split_dataset(mnist, train_size=300, validation_split=0.1, seed=8)
    assert split.x_train.shape == (270, 28, 28, 1)
    assert split.x_val.shape == (30, 28, 28, 1)
    assert split.x_test.shape == (10000, 28, 28, 1)
    assert split.x_train.dtype == np.float32
    assert split.x_train.min() >= 0.0
    assert split.x_train.max() <= 1.0
    np.testing.assert_array_equal(split.y_train, again.y_train)
    assert not np.array_equal(split.y_train, other.y_train)


@pytest.mark.parametrize(
    ("train_size", "validation_split", "match"),
    [(60001, 0.1, r"`train_size <= 60000` must hold"), (10, 0.01, "leaves 0 validation rows")],
)
def test_split_rejects_impossible_sizes(mnist, train_size, validation_split, match):
    with pytest.raises(ValueError, match=match):
        split_dataset(mnist, train_size, validation_split, seed=0)
