"""The one typed configuration of a training run, built from ``wandb.config``.

Every sweep parameter must be a field here: unknown keys are rejected, so a typo in a sweep YAML fails the run
instead of becoming a silently ignored parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

import yaml

MODELS = ("mlp", "cnn")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy")
DATASETS = ("mnist", "fashion_mnist")
DATA_SOURCES = ("bundled", "keras", "file")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters and data settings of one run; the defaults are the default run.

    ``units`` is the width of each hidden Dense layer (mlp) and ``filters`` the width of the first Conv2D layer
    (cnn, doubled per layer). ``train_size`` rows are taken from the 60,000 training images (a seeded shuffle)
    before ``validation_split`` of them are held out. ``early_stopping_patience=0`` never stops early; in every
    case the weights of the best epoch (by ``val_accuracy``) are restored before the test-set evaluation, so the
    predictions come from the model that the sweep metric describes.
    """

    model: str = "mlp"
    units: int = 128
    filters: int = 32
    num_layers: int = 1
    dropout_rate: float = 0.2
    optimizer: str = "adam"
    learning_rate: float = 1.0e-3
    batch_size: int = 128
    epochs: int = 5
    loss: str = "sparse_categorical_crossentropy"
    early_stopping_patience: int = 0
    seed: int = 0
    train_size: int = 60000
    validation_split: float = 0.1
    dataset: str = "mnist"
    data_source: str = "bundled"
    data_path: str = ""
    save_model: bool = True

    def __post_init__(self) -> None:
        errors = list(self._type_errors()) or list(self._range_errors())
        if errors:
            raise ValueError("invalid training config:\n  " + "\n  ".join(errors))

    def _type_errors(self) -> Iterable[str]:
        for name, kind in get_type_hints(type(self)).items():
            value = getattr(self, name)
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if not ok:
                yield f"`{name}` must be of type {kind.__name__}, but got {name}={value!r} ({type(value).__name__})"

    def _range_errors(self) -> Iterable[str]:
        rules: list[tuple[str, bool, str]] = [
            ("model", self.model in MODELS, f"`model` must be one of {MODELS}"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"`optimizer` must be one of {OPTIMIZERS}"),
            ("loss", self.loss in LOSSES, f"`loss` must be one of {LOSSES}"),
            ("dataset", self.dataset in DATASETS, f"`dataset` must be one of {DATASETS}"),
            ("data_source", self.data_source in DATA_SOURCES, f"`data_source` must be one of {DATA_SOURCES}"),
            ("units", 1 <= self.units <= 8192, "`1 <= units <= 8192` must hold"),
            ("filters", 1 <= self.filters <= 1024, "`1 <= filters <= 1024` must hold"),
            ("num_layers", 1 <= self.num_layers <= 8, "`1 <= num_layers <= 8` must hold"),
            ("dropout_rate", 0.0 <= self.dropout_rate < 1.0, "`0 <= dropout_rate < 1` must hold"),
            ("learning_rate", 0.0 < self.learning_rate <= 10.0, "`0 < learning_rate <= 10` must hold"),
            ("batch_size", 1 <= self.batch_size <= 65536, "`1 <= batch_size <= 65536` must hold"),
            ("epochs", 1 <= self.epochs <= 1000, "`1 <= epochs <= 1000` must hold"),
            (
                "early_stopping_patience",
                self.early_stopping_patience >= 0,
                "`early_stopping_patience >= 0` must hold",
            ),
            ("seed", 0 <= self.seed < 2**32, "`0 <= seed < 2**32` must hold"),
            ("train_size", self.train_size >= 10, "`train_size >= 10` must hold"),
            ("validation_split", 0.0 < self.validation_split < 1.0, "`0 < validation_split < 1` must hold"),
            (
                "data_path",
                self.data_source != "file" or self.data_path != "",
                "`data_path` must name a keras-format .npz file when data_source='file'",
            ),
            (
                "data_source",
                self.data_source != "bundled" or self.dataset == "mnist",
                f"`data_source='bundled'` ships MNIST only (use 'keras' or 'file' for dataset={self.dataset!r})",
            ),
        ]
        for name, ok, rule in rules:
            if not ok:
                yield f"{rule}, but got {name}={getattr(self, name)!r}"

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every config key, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build a config from ``wandb.config`` (or any mapping); keys not given keep their defaults.

        Integral floats (``64.0`` from a YAML or a JSON round trip) are accepted for int fields and ints for
        float fields; anything else must already have the field's type.

        Raises
        ------
        ValueError
            If a key is not a config field, or a value breaks a rule; the message lists every problem.
        """
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(
                f"unknown config key(s) {unknown}: every sweep parameter must be a field of TrainConfig "
                f"(one of {list(cls.field_names())}); check the spelling in your sweep YAML or flags"
            )
        hints = get_type_hints(cls)
        return cls(**{k: _coerce(v, hints[k]) for k, v in values.items()})


def _coerce(value: Any, kind: type) -> Any:
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and value is None:
        return ""
    return value


def parse_flags(argv: Iterable[str]) -> dict[str, Any]:
    """Parse the ``--key=value`` flags that ``wandb agent``'s default command appends (``${args}``).

    Values are read as YAML scalars, as W&B writes them: ``--epochs=3`` is an int, ``--learning_rate=0.001`` a
    float, ``--save_model=False`` a bool, ``--model=cnn`` a string.

    >>> parse_flags(["--epochs=3", "--model=cnn", "--learning_rate=1e-3"])
    {'epochs': 3, 'model': 'cnn', 'learning_rate': 0.001}

    Raises
    ------
    ValueError
        If an argument is not of the form ``--key=value``, or a key is given twice (which value was meant?).
    """
    flags: dict[str, Any] = {}
    given: dict[str, str] = {}
    for arg in argv:
        key, sep, raw = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or not sep or not key:
            raise ValueError(f"arguments must look like --key=value (e.g. --epochs=3), but got {arg!r}")
        if key in given:
            raise ValueError(f"each flag may be given once, but got {given[key]!r} and {arg!r}; keep the one you mean")
        given[key], flags[key] = arg, _scalar(raw)
    return flags


def _scalar(raw: str) -> Any:
    if raw in ("True", "False"):  # Python's str(bool), which is what the agent writes
        return raw == "True"
    try:
        return float(raw) if _looks_like_float(raw) else yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _looks_like_float(raw: str) -> bool:
    # PyYAML (YAML 1.1) reads "1e-3" as a string; a number is what anyone typing it means.
    try:
        float(raw)
    except ValueError:
        return False
    return not raw.lstrip("+-").isdigit() and raw.lower() not in ("nan", "inf", "-inf", "+inf", "infinity")
