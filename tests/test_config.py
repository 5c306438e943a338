import pytest

from trainer.config import TrainConfig, parse_flags


def test_config_defaults_are_valid():
    config = TrainConfig()
    assert config.model == "mlp"
    assert config.learning_rate == pytest.approx(1.0e-3)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"learning_rate": -0.1}, r"`0 < learning_rate <= 10` must hold, but got learning_rate=-0.1"),
        ({"learning_rate": 0.0}, r"learning_rate=0.0"),
        ({"model": "rnn"}, r"`model` must be one of \('mlp', 'cnn'\), but got model='rnn'"),
        ({"optimizer": "adagrad"}, r"`optimizer` must be one of"),
        ({"loss": "mse"}, r"`loss` must be one of"),
        ({"dropout_rate": 1.0}, r"`0 <= dropout_rate < 1` must hold, but got dropout_rate=1.0"),
        ({"batch_size": 0}, r"`1 <= batch_size <= 65536` must hold, but got batch_size=0"),
        ({"epochs": 0}, r"epochs=0"),
        ({"units": 0}, r"units=0"),
        ({"num_layers": 9}, r"num_layers=9"),
        ({"seed": -1}, r"seed=-1"),
        ({"train_size": 5}, r"`train_size >= 10` must hold"),
        ({"validation_split": 1.0}, r"`0 < validation_split < 1` must hold"),
        ({"data_source": "s3"}, r"`data_source` must be one of"),
        ({"data_source": "file"}, r"`data_path` must name a keras-format .npz file"),
        ({"dataset": "fashion_mnist"}, r"ships MNIST only"),
        ({"epochs": "3"}, r"`epochs` must be of type int, but got epochs='3' \(str\)"),
        ({"epochs": 2.5}, r"`epochs` must be of type int"),
        ({"save_model": 1}, r"`save_model` must be of type bool"),
        ({"units": True}, r"`units` must be of type int"),
        ({"lr": 0.1}, r"unknown config key\(s\) \['lr'\]: every sweep parameter must be a field of TrainConfig"),
    ],
)
def test_config_from_mapping_rejects_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_mapping(values)


def test_config_from_mapping_lists_every_violation():
    with pytest.raises(ValueError, match=r"(?s)model='rnn'.*units=0"):
        TrainConfig.from_mapping({"model": "rnn", "units": 0})


def test_config_from_mapping_coerces_integral_floats_and_int_floats():
    config = TrainConfig.from_mapping({"units": 256.0, "learning_rate": 1, "data_path": None})
    assert config.units == 256
    assert isinstance(config.units, int)
    assert config.learning_rate == 1.0
    assert isinstance(config.learning_rate, float)
    assert config.data_path == ""


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--epochs=3"], {"epochs": 3}),
        (["--learning_rate=1e-05"], {"learning_rate": 1e-05}),
        (["--learning_rate=0.001"], {"learning_rate": 0.001}),
        (["--save_model=False", "--model=cnn"], {"save_model": False, "model": "cnn"}),
        (["--data_path=/tmp/a b.npz"], {"data_path": "/tmp/a b.npz"}),
        ([], {}),
    ],
)
def test_parse_flags_reads_agent_style_arguments(argv, expected):
    assert parse_flags(argv) == expected


@pytest.mark.parametrize("arg", ["epochs=3", "--epochs", "-e=3", "--=3"])
def test_parse_flags_rejects_other_forms(arg):
    with pytest.raises(ValueError, match="arguments must look like --key=value"):
        parse_flags([arg])
