"""Keras models for 28x28 grey images: a Functional MLP or a small CNN, compiled per the config."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import keras
import numpy as np

from trainer.config import TrainConfig
from trainer.data import Split


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """An uncompiled Functional model ending in a softmax over ``num_classes``.

    mlp: ``num_layers`` x (Dense(units, relu) -> Dropout). cnn: ``num_layers`` x (Conv2D(filters * 2**i, 3,
    relu) -> MaxPool(2)) -> Flatten -> Dropout -> Dense(units, relu) -> Dropout.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if config.model == "mlp":
        x = keras.layers.Flatten()(x)
        for i in range(config.num_layers):
            x = keras.layers.Dense(config.units, activation="relu", name=f"dense_{i}")(x)
            x = keras.layers.Dropout(config.dropout_rate)(x)
    else:
        for i in range(config.num_layers):
            # 28 -> 14 -> 7 -> 3 -> 1: pooling stops once the map is 1x1, so deep CNNs stay valid.
            x = keras.layers.Conv2D(config.filters * 2**i, 3, padding="same", activation="relu", name=f"conv_{i}")(x)
            if x.shape[1] > 1:
                x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dropout(config.dropout_rate)(x)
        x = keras.layers.Dense(config.units, activation="relu", name="dense")(x)
        x = keras.layers.Dropout(config.dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=config.model)


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer a config names, at its learning rate."""
    optimizers: dict[str, type[keras.optimizers.Optimizer]] = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    return optimizers[config.optimizer](learning_rate=config.learning_rate)


def uses_one_hot_labels(config: TrainConfig) -> bool:
    """Whether the loss wants one-hot targets (the categorical losses) rather than integer labels."""
    return not config.loss.startswith("sparse_")


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Compile with the config's optimizer and loss; accuracy is the one Keras metric (AUROC is sklearn's)."""
    model.compile(optimizer=make_optimizer(config), loss=config.loss, metrics=["accuracy"])
    return model


def targets(labels: np.ndarray, config: TrainConfig, num_classes: int) -> np.ndarray:
    """Labels as the config's loss wants them: integers, or one-hot rows for the categorical losses."""
    return keras.utils.to_categorical(labels, num_classes) if uses_one_hot_labels(config) else labels


def fit(
    model: keras.Model, split: Split, config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = ()
) -> keras.callbacks.History:
    """Train on the split's training rows, validating on its validation rows each epoch, as every run does."""
    classes = int(model.output_shape[-1])
    return model.fit(
        split.x_train,
        targets(split.y_train, config, classes),
        validation_data=(split.x_val, targets(split.y_val, config, classes)),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=list(callbacks),
    )


def latency_ms_per_example(model: keras.Model, images: np.ndarray, batch_size: int = 256, repeats: int = 5) -> float:
    """Inference time per example in milliseconds: the median of ``repeats`` timed ``predict_on_batch`` calls on
    the first ``batch_size`` rows of ``images``, divided by the rows, after one untimed call (it traces the model).

    The cost of a forward pass does not depend on the weights, so an untrained model measures the same.
    """
    batch = images[:batch_size]
    model.predict_on_batch(batch)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        seconds.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(seconds) / len(batch)
