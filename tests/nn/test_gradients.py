"""Central finite-difference checks (float64) for activations, layers, losses and fused pairs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from dlcli.nn import (
    ACTIVATIONS,
    KERNELS,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Normalization,
    Sequential,
    get_loss,
    kernels,
)

from .conftest import assert_close_grad, numerical_gradient

F64 = np.dtype(np.float64)


@pytest.fixture(autouse=True, params=KERNELS.names())
def kernel_set(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every check runs on the NumPy path and on the compiled one."""
    previous = kernels.use(request.param)
    yield request.param
    kernels.restore(previous)


def check_layer(
    layer, X: np.ndarray, rng: np.random.Generator, training: bool = True, reseed: int | None = None
) -> None:
    """Check dX and every param grad of ``layer`` for L = sum(forward(X) * R)."""
    R = rng.standard_normal((X.shape[0], layer.output_dim))

    def loss() -> float:
        if reseed is not None:
            layer.rng = np.random.default_rng(reseed)  # same dropout mask every call
        return float(np.sum(layer.forward(X, training) * R))

    loss()
    dX = np.array(layer.backward(R.copy()), copy=True)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    assert_close_grad(dX, numerical_gradient(loss, X))
    for key, param in layer.params.items():
        assert_close_grad(grads[key], numerical_gradient(loss, param))


def inputs(rng: np.random.Generator, n: int = 5, d: int = 4) -> np.ndarray:
    # Keep away from the kinks of relu-like activations so differences are well defined.
    X = rng.standard_normal((n, d))
    return np.where(np.abs(X) < 0.05, 0.3, X)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer(name, rng):
    layer = Activation(name)
    layer.build(4, rng, F64)
    check_layer(layer, inputs(rng), rng)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dense_with_activation(name, rng):
    layer = Dense(3, activation=name, kernel_initializer="glorot_normal")
    layer.build(4, rng, F64)
    layer.params["bias"][...] = rng.standard_normal(3) * 0.1
    X = inputs(rng)
    # Shift pre-activations off relu kinks.
    Z = X @ layer.params["kernel"] + layer.params["bias"]
    layer.params["bias"][...] += np.where(np.abs(Z).min(axis=0) < 0.05, 0.2, 0.0)
    check_layer(layer, X, rng)


def test_dense_without_bias(rng):
    layer = Dense(3, use_bias=False)
    layer.build(4, rng, F64)
    assert list(layer.params) == ["kernel"]
    check_layer(layer, inputs(rng), rng)


def test_batchnorm_training_mode(rng):
    layer = BatchNormalization()
    layer.build(4, rng, F64)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, 4)
    layer.params["beta"][...] = rng.standard_normal(4)
    check_layer(layer, inputs(rng, n=6) * 3 + 1, rng, training=True)


def test_batchnorm_inference_mode(rng):
    layer = BatchNormalization()
    layer.build(4, rng, F64)
    layer.state["moving_mean"][...] = rng.standard_normal(4)
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2.0, 4)
    check_layer(layer, inputs(rng), rng, training=False)


def test_dropout_with_fixed_mask(rng):
    layer = Dropout(0.4)
    layer.build(4, rng, F64)
    check_layer(layer, inputs(rng, n=8), rng, training=True, reseed=7)


def test_normalization(rng):
    layer = Normalization()
    layer.adapt(rng.standard_normal((20, 4)) * 3)
    check_layer(layer, inputs(rng), rng)


PLAIN_LOSSES = ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"]


@pytest.mark.parametrize("name", PLAIN_LOSSES)
def test_loss_on_outputs(name, rng):
    loss = get_loss(name)
    if name == "categorical_crossentropy":
        P = rng.dirichlet(np.ones(3), size=5)
        y = loss.prepare_targets(rng.integers(0, 3, 5), 3, F64)
    elif name == "binary_crossentropy":
        P = rng.uniform(0.1, 0.9, (5, 2))
        y = loss.prepare_targets(rng.integers(0, 2, (5, 2)), 2, F64)
    else:
        P = rng.standard_normal((5, 2)) * 2
        y = loss.prepare_targets(rng.standard_normal((5, 2)), 2, F64)
    grad = loss.gradient(P, y)
    assert_close_grad(grad, numerical_gradient(lambda: loss(P, y), P))


@pytest.mark.parametrize("targets", ["labels", "onehot"])
def test_fused_softmax_crossentropy(targets, rng):
    loss = get_loss("categorical_crossentropy")
    Z = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, 6)
    y = labels if targets == "labels" else np.eye(4)[labels]
    y = loss.prepare_targets(y, 4, F64)

    def value() -> float:
        return loss.from_logits(Z, y, np.empty_like(Z))

    grad = np.empty_like(Z)
    loss.from_logits(Z, y, grad)
    assert_close_grad(grad, numerical_gradient(value, Z))
    # Same value as softmax followed by the plain loss.
    P = ACTIVATIONS["softmax"](Z)
    assert value() == pytest.approx(loss(P, y), rel=1e-9)


def test_fused_sigmoid_binary_crossentropy(rng):
    loss = get_loss("binary_crossentropy")
    Z = rng.standard_normal((6, 1)) * 3
    y = loss.prepare_targets(rng.integers(0, 2, 6), 1, F64)
    grad = np.empty_like(Z)
    loss.from_logits(Z, y, grad)
    assert_close_grad(grad, numerical_gradient(lambda: loss.from_logits(Z, y, np.empty_like(Z)), Z))
    P = ACTIVATIONS["sigmoid"](Z)
    assert loss.from_logits(Z, y, np.empty_like(Z)) == pytest.approx(loss(P, y), rel=1e-9)


def test_fused_losses_stay_finite_for_extreme_logits():
    ce, bce = get_loss("categorical_crossentropy"), get_loss("binary_crossentropy")
    Z = np.array([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 0.0]])
    value = ce.from_logits(Z, np.array([1, 1]), np.empty_like(Z))
    assert np.isfinite(value) and value == pytest.approx(1000.0)
    z = np.array([[1e4], [-1e4]], dtype=np.float32)
    grad = np.empty_like(z)
    value = bce.from_logits(z, np.array([[0.0], [1.0]], dtype=np.float32), grad)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    "loss,last,targets",
    [
        ("categorical_crossentropy", "softmax", "labels"),
        ("binary_crossentropy", "sigmoid", "binary"),
        ("mse", "linear", "values"),
        ("huber", "tanh", "values"),
    ],
)
def test_whole_model_gradient(loss, last, targets, rng):
    units = 3 if targets == "labels" else 1
    model = Sequential(
        [Normalization(), Dense(5, "tanh"), BatchNormalization(), Dense(4, "softplus"), Dense(units, last)],
        input_dim=4,
        loss=loss,
        dtype="float64",
    ).build(rng)
    X = rng.standard_normal((7, 4))
    y = {"labels": rng.integers(0, 3, 7), "binary": rng.integers(0, 2, 7), "values": rng.standard_normal(7)}[targets]
    model.compute_loss_and_gradients(X, y)
    grads = [g.copy() for g in model.gradients()]

    def value() -> float:
        return model.compute_loss_and_gradients(X, y)

    for param, grad in zip(model.parameters(), grads, strict=True):
        assert_close_grad(grad, numerical_gradient(value, param))


def test_softmax_crossentropy_is_invariant_to_row_shifts(rng):
    # A +200 shift on one row forces the per-row-maximum path; the result must not change.
    loss = get_loss("categorical_crossentropy")
    Z = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 1])
    shifted = Z + np.array([[0.0], [200.0], [0.0], [-50.0]])
    g1, g2 = np.empty_like(Z), np.empty_like(Z)
    assert loss.from_logits(Z, y, g1) == pytest.approx(loss.from_logits(shifted, y, g2), rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)


def test_float32_gelu_matches_exact_float64(rng):
    gelu = ACTIVATIONS["gelu"]
    Z = rng.standard_normal((50, 40)) * 4
    exact = gelu(Z)
    fast = gelu(Z.astype(np.float32))
    assert fast.dtype == np.float32
    np.testing.assert_allclose(fast, exact, rtol=0, atol=2e-6 * np.abs(Z).max())
    np.testing.assert_allclose(gelu.derivative(Z.astype(np.float32)), gelu.derivative(Z), atol=2e-6)
