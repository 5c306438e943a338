"""The one recipe every run follows before training: seed, split, build, compile.

The trainer (``trainer/train.py``) and the benchmarks (``bench/``) all call :func:`prepare`, so a benchmark
measures the model and data the trainer really trains; none repeats these steps.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from trainer.config import TrainConfig
from trainer.data import Dataset, Split, split_dataset
from trainer.model import build_model, compile_model


class Prepared(NamedTuple):
    """A compiled, untrained model and the split it trains on (``model, split = prepare(...)``)."""

    model: keras.Model
    split: Split


def prepare(config: TrainConfig, data: Dataset) -> Prepared:
    """Seed every generator, split ``data``, build and compile the config's model.

    The Keras session is cleared first (one process runs many models: pooled workers, the benchmarks) and
    TensorFlow's ops are made deterministic, so the same config and seed give the same run.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    split = split_dataset(data, config.train_size, config.validation_split, config.seed)
    model = compile_model(build_model(config, split.x_train.shape[1:], data.num_classes), config)
    return Prepared(model, split)
