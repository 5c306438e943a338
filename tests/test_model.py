import keras
import numpy as np
import pytest

from trainer.config import TrainConfig
from trainer.model import build_model, compile_model, latency_ms_per_example, targets, uses_one_hot_labels


@pytest.mark.parametrize(
    ("values", "dense_layers", "conv_layers"),
    [
        ({"model": "mlp", "num_layers": 1}, 2, 0),
        ({"model": "mlp", "num_layers": 3, "units": 16}, 4, 0),
        ({"model": "cnn", "num_layers": 2, "filters": 8}, 2, 2),
        ({"model": "cnn", "num_layers": 6, "filters": 2}, 2, 6),  # pooling stops at 1x1
    ],
)
def test_build_model_outputs_class_probabilities(values, dense_layers, conv_layers):
    model = build_model(TrainConfig.from_mapping(values), (28, 28, 1), 10)
    layers = model.layers
    assert sum(isinstance(layer, keras.layers.Dense) for layer in layers) == dense_layers
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in layers) == conv_layers
    probabilities = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("optimizer", "cls"), [("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop")])
def test_compile_model_uses_the_configured_optimizer_and_rate(optimizer, cls):
    config = TrainConfig(optimizer=optimizer, learning_rate=0.05)
    model = compile_model(build_model(config, (28, 28, 1), 10), config)
    assert type(model.optimizer).__name__ == cls
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_categorical_losses_want_one_hot_labels():
    assert uses_one_hot_labels(TrainConfig(loss="categorical_crossentropy"))
    assert uses_one_hot_labels(TrainConfig(loss="categorical_focal_crossentropy"))
    assert not uses_one_hot_labels(TrainConfig())


def test_targets_are_one_hot_only_for_categorical_losses():
    labels = np.array([2, 0])
    assert targets(labels, TrainConfig(), 3).tolist() == [2, 0]
    one_hot = targets(labels, TrainConfig(loss="categorical_crossentropy"), 3)
    assert one_hot.tolist() == [[0, 0, 1], [1, 0, 0]]


def test_latency_ms_per_example_is_a_positive_time_per_row():
    model = build_model(TrainConfig(units=16), (28, 28, 1), 10)
    latency = latency_ms_per_example(model, np.zeros((40, 28, 28, 1), np.float32), batch_size=20, repeats=2)
    assert 0 < latency < 1000  # milliseconds per row of a 16-unit MLP: far below a second
