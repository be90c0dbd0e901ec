"""Sequential: configs, learning, dtypes, determinism, weights and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcli.errors import ConfigError, DataError, ModelFileError
from dlcli.nn import (
    LAYERS,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Normalization,
    Sequential,
    get_activation,
    get_optimizer,
)


def mlp(dtype: str = "float32", loss: str = "categorical_crossentropy") -> Sequential:
    return Sequential(
        [
            Normalization(),
            Dense(16, "relu"),
            BatchNormalization(),
            Dropout(0.1),
            Dense(8, "elu"),
            Activation("tanh"),
            Dense(3, "softmax"),
        ],
        input_dim=5,
        loss=loss,
        dtype=dtype,
    )


def train(model: Sequential, X, y, epochs: int, lr: float, name: str = "adam", batch: int = 16, seed: int = 0) -> float:
    opt = get_optimizer(name)
    rng = np.random.default_rng(seed)
    loss = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            loss = model.compute_loss_and_gradients(X[idx], y[idx])
            opt.step(model.parameters(), model.gradients(), lr)
    return loss


def test_layer_names_are_keras_style():
    model = mlp()
    assert [layer.name for layer in model.layers] == [
        "normalization",
        "dense",
        "batch_normalization",
        "dropout",
        "dense_1",
        "activation",
        "dense_2",
    ]


@pytest.mark.parametrize("cls", sorted(LAYERS))
def test_layer_config_round_trip(cls):
    layer = mlp().build(np.random.default_rng(0)).layers[[layer.class_name for layer in mlp().layers].index(cls)]
    config = json.loads(json.dumps(layer.get_config()))
    again = LAYERS[cls].from_config(config)
    assert again.get_config() == config


def test_keras_serialised_fields_are_accepted():
    config = {
        "name": "dense",
        "trainable": True,
        "units": 4,
        "activation": "relu",
        "use_bias": True,
        "dtype": {"module": "keras", "class_name": "DTypePolicy"},
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_constraint": None,
    }
    assert Dense.from_config({**config, "lora_rank": None}).kernel_initializer == "glorot_uniform"
    dropout = {"name": "dropout", "trainable": True, "rate": 0.2, "seed": 42, "noise_shape": None}
    assert Dropout.from_config(dropout).rate == 0.2
    with pytest.raises(ConfigError, match="kernel_regularizer"):
        Dense.from_config({**config, "kernel_regularizer": {"class_name": "L2"}})


def test_model_config_and_weights_round_trip():
    model = mlp().build(np.random.default_rng(3))
    X = np.random.default_rng(4).standard_normal((10, 5)).astype(np.float32)
    model.layers[0].adapt(X)
    config = json.loads(json.dumps(model.get_config()))
    again = Sequential.from_config(config)
    assert again.get_config() == config
    again.set_weights({name: dict(ws) for name, ws in model.get_weights().items()})
    np.testing.assert_array_equal(model.predict(X), again.predict(X))


def test_default_initialisers_follow_activation():
    assert Dense(4, "relu").kernel_initializer == "he_normal"
    assert Dense(4, "tanh").kernel_initializer == "glorot_uniform"


def test_xor_is_learned():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = Sequential([Dense(8, "tanh"), Dense(1, "sigmoid")], 2, loss="binary_crossentropy").build(
        np.random.default_rng(0)
    )
    train(model, X, y, epochs=500, lr=0.05, batch=4)
    np.testing.assert_array_equal((model.predict(X)[:, 0] > 0.5).astype(int), y)


def test_small_regression_converges():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (256, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    model = Sequential([Dense(32, "tanh"), Dense(1)], 3, loss="mse", dtype="float64").build(rng)
    before = model.evaluate_loss(X, y)
    train(model, X, y, epochs=150, lr=0.01, batch=32)
    after = model.evaluate_loss(X, y)
    assert after < 0.01 and after < before / 20


def test_float32_stays_float32_end_to_end():
    model = mlp().build(np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((12, 5))  # float64 input is cast once
    y = np.arange(12) % 3
    opt = get_optimizer("adam")
    model.compute_loss_and_gradients(X, y)
    opt.step(model.parameters(), model.gradients(), 0.01)
    arrays = [w for ws in model.get_weights().values() for _, w in ws if w.ndim]
    arrays += [*model.gradients(), model.predict(X)]
    arrays += [v for k, v in opt.state_dict().items() if isinstance(v, np.ndarray)]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


def test_float64_selectable():
    model = mlp("float64").build(np.random.default_rng(0))
    assert model.predict(np.zeros((2, 5))).dtype == np.float64


def test_same_seed_gives_identical_weights_and_training():
    X = np.random.default_rng(1).standard_normal((40, 5))
    y = np.arange(40) % 3
    runs = []
    for _ in range(2):
        model = mlp().build(np.random.default_rng(42))
        train(model, X, y, epochs=3, lr=0.01)
        runs.append(model.copy_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_predict_in_batches_matches_single_batch():
    model = mlp().build(np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((50, 5))
    np.testing.assert_array_equal(model.predict(X, batch_size=7)[:7], model.predict(X[:7]))
    np.testing.assert_allclose(model.predict(X, batch_size=7), model.predict(X), rtol=1e-5)


def test_copy_and_restore_weights():
    model = mlp().build(np.random.default_rng(0))
    saved = model.copy_weights()
    X, y = np.ones((4, 5)), np.zeros(4)
    train(model, X, y, epochs=2, lr=0.1)
    model.restore_weights(saved)
    for a, b in zip(saved, model.copy_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_weights_rejects_wrong_shapes_and_names():
    model = mlp().build(np.random.default_rng(0))
    weights = {name: dict(ws) for name, ws in model.get_weights().items()}
    weights["dense"]["kernel"] = np.zeros((4, 16))
    with pytest.raises(ModelFileError, match=r"'kernel' expected shape \(5, 16\), found \(4, 16\)"):
        model.set_weights(weights)
    with pytest.raises(ModelFileError, match="unknown layer 'dense_9'"):
        model.set_weights({"dense_9": {}})


def test_errors_are_typed_and_helpful():
    with pytest.raises(ConfigError, match=r"Unknown activation 'relux'\. Expected one of: linear, relu"):
        get_activation("relux")
    model = mlp().build(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"expects inputs of shape \(n, 5\), got \(3, 4\)"):
        model.predict(np.zeros((3, 4)))
    with pytest.raises(DataError, match="Class labels must be integers in \\[0, 2\\]"):
        model.compute_loss_and_gradients(np.zeros((2, 5)), np.array([0, 3]))
    with pytest.raises(ConfigError, match="Unknown dtype 'float16'"):
        Sequential([Dense(1)], 2, dtype="float16")


def test_normalization_matches_keras_formula():
    layer = Normalization()
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    layer.adapt(X)
    np.testing.assert_array_equal(layer.state["variance"], [1.0, 0.0])
    assert int(layer.state["count"]) == 2
    # Keras 3: (x - mean) / maximum(sqrt(variance), 1e-7); a constant column maps to 0.
    np.testing.assert_allclose(layer.forward(X, False), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(layer.forward(np.array([[2.0, 5.5]]), False), [[0.0, 0.5 / 1e-7]], rtol=1e-6)


def test_batchnorm_moving_statistics_use_keras_momentum():
    layer = BatchNormalization()
    layer.build(2, np.random.default_rng(0), np.dtype(np.float64))
    X = np.array([[0.0, 2.0], [2.0, 6.0]])
    layer.forward(X, True)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.01 * np.array([1.0, 4.0]))
    np.testing.assert_allclose(layer.state["moving_variance"], 0.99 + 0.01 * np.array([1.0, 4.0]))


def test_dropout_is_inverted_and_off_at_inference():
    layer = Dropout(0.5)
    layer.build(1000, np.random.default_rng(0), np.dtype(np.float64))
    layer.rng = np.random.default_rng(0)
    X = np.ones((4, 1000))
    Y = layer.forward(X, True)
    assert set(np.unique(Y)) == {0.0, 2.0} and abs(Y.mean() - 1.0) < 0.05
    np.testing.assert_array_equal(layer.forward(X, False), X)
