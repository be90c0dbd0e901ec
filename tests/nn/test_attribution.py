"""Input gradients (float64 central differences) and integrated gradients over the model."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.nn import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Normalization,
    Sequential,
    get_activation,
)
from dlcli.nn.attribution import QUADRATURES, AffineSplit, integrated_gradients

from .conftest import assert_close_grad, numerical_gradient

HIDDEN = [n for n in ACTIVATIONS.names() if get_activation(n).elementwise]


def stack(activation: str, last: str, out: int, rng: np.random.Generator, d: int = 5) -> Sequential:
    """Every layer type, in inference mode: Normalization, Dense, BatchNorm, Dropout, Activation."""
    layers = [
        Normalization(),
        Dense(7, activation),
        BatchNormalization(),
        Dropout(0.4),
        Dense(6),
        Activation(activation),
        Dense(out, last),
    ]
    model = Sequential(layers, d, loss="mse", dtype="float64").build(rng)
    model.layers[0].adapt(rng.normal(1.0, 2.0, (50, d)))
    bn = model.layers[2]
    bn.state["moving_mean"][:] = rng.normal(size=7)
    bn.state["moving_variance"][:] = rng.uniform(0.5, 2.0, 7)
    return model


@pytest.mark.parametrize("activation", HIDDEN)
def test_input_gradient_of_every_layer_type_matches_finite_differences(activation, rng):
    model = stack(activation, "softmax", 3, rng)
    X = rng.normal(1.0, 2.0, (4, 5))
    R = rng.standard_normal((4, 3))
    outputs, dX = model.input_gradient(X, R)
    np.testing.assert_array_equal(outputs, model.predict(X))
    assert_close_grad(dX, numerical_gradient(lambda: float(np.sum(model.predict(X) * R)), X))


@pytest.mark.parametrize("last", ["linear", "sigmoid", "softmax", "tanh"])
def test_input_gradient_through_each_output_activation(last, rng):
    model = stack("relu", last, 2, rng)
    X = rng.normal(1.0, 2.0, (3, 5))
    R = rng.standard_normal((3, 2))
    _, dX = model.input_gradient(X, R)
    assert_close_grad(dX, numerical_gradient(lambda: float(np.sum(model.predict(X) * R)), X))


@pytest.mark.parametrize("name", LOSSES.names())
def test_input_gradient_of_every_loss(name, rng):
    loss = LOSSES.get(name)
    multiclass = name == "categorical_crossentropy"
    model = stack("tanh", "softmax" if multiclass else "sigmoid", 3 if multiclass else 1, rng)
    X = rng.normal(1.0, 2.0, (4, 5))
    raw = rng.integers(0, 3 if multiclass else 2, 4)
    y = loss.prepare_targets(raw, model.output_dim, model.dtype)
    outputs = model.predict(X)
    _, dX = model.input_gradient(X, loss.gradient(outputs, y))
    assert_close_grad(dX, numerical_gradient(lambda: loss(model.predict(X), y), X))


def test_input_gradient_leaves_weight_gradients_alone(rng):
    model = stack("relu", "linear", 1, rng)
    before = [g.copy() for g in model.gradients()]
    model.input_gradient(rng.standard_normal((4, 5)), np.ones((4, 1)))
    for old, new in zip(before, model.gradients(), strict=True):
        np.testing.assert_array_equal(old, new)


def naive_ig(model: Sequential, X, baseline, seeds, steps, method="gausslegendre") -> np.ndarray:
    """Integrated gradients the straightforward way: every path point through the whole model."""
    alphas, weights = QUADRATURES.lookup(method)(steps)
    total = np.zeros_like(X)
    for alpha, weight in zip(alphas, weights, strict=True):
        _, dX = model.input_gradient(baseline + alpha * (X - baseline), seeds)
        total += weight * dX
    return (X - baseline) * total


@pytest.mark.parametrize("method", QUADRATURES.names())
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_affine_split_gives_the_straightforward_integral(method, activation, rng):
    model = stack(activation, "softmax", 3, rng)
    X, base = rng.normal(1.0, 2.0, (6, 5)), rng.normal(size=5)
    seeds = np.eye(3)[rng.integers(0, 3, 6)]
    fast = integrated_gradients(AffineSplit(model), X, base, seeds, steps=20, method=method, max_steps=20)
    np.testing.assert_allclose(fast.values, naive_ig(model, X, base, seeds, 20, method), rtol=1e-10, atol=1e-12)
    assert (fast.steps == 20).all()


def test_a_model_starting_with_an_activation_has_no_head_and_the_same_integral(rng):
    layers = [Activation("tanh"), Dense(4, "relu"), Dense(1)]
    model = Sequential(layers, 3, dtype="float64").build(rng)
    split = AffineSplit(model)
    assert split.dense is None
    X, base, seeds = rng.standard_normal((4, 3)), np.zeros(3), np.ones((4, 1))
    fast = integrated_gradients(split, X, base, seeds, steps=16, max_steps=16)
    np.testing.assert_allclose(fast.values, naive_ig(model, X, base, seeds, 16), rtol=1e-10, atol=1e-12)


def test_linear_model_attributions_are_exactly_weight_times_difference(rng):
    model = Sequential([Normalization(), Dense(1)], 4, dtype="float64").build(rng)
    model.layers[0].adapt(rng.normal(3.0, 5.0, (40, 4)))
    X, base = rng.normal(3.0, 5.0, (8, 4)), model.layers[0].state["mean"]
    result = integrated_gradients(AffineSplit(model), X, base, np.full((8, 1), 2.5), steps=3)
    slope = model.layers[1].params["kernel"][:, 0] / np.sqrt(model.layers[0].state["variance"])
    np.testing.assert_allclose(result.values, 2.5 * slope * (X - base), rtol=1e-12)
    assert result.gap.max() < 1e-12


def test_completeness_is_measured_and_refinement_doubles_steps_only_where_needed(rng):
    model = stack("relu", "softmax", 3, rng)
    X = rng.normal(1.0, 2.0, (40, 5))
    seeds = np.eye(3)[model.predict(X).argmax(axis=1)]
    base = model.layers[0].state["mean"]
    result = integrated_gradients(AffineSplit(model), X, base, seeds, steps=4, tolerance=0.01, floor=0.01)
    diff = result.at_x - result.at_baseline
    measured = np.abs(result.values.sum(axis=1) - diff) / np.maximum(np.abs(diff), 0.01)
    np.testing.assert_allclose(result.gap, measured)
    assert set(np.unique(result.steps)) <= {4, 8, 16, 32, 64, 128, 256}
    assert (result.steps > 4).any() and (result.steps == 4).any()
    assert (result.gap[result.steps < 256] <= 0.01).all()
    np.testing.assert_allclose(result.at_x, np.sum(model.predict(X) * seeds, axis=1))


def test_a_small_memory_budget_gives_the_same_attributions(rng):
    model = stack("tanh", "softmax", 3, rng)
    X, seeds = rng.normal(size=(30, 5)), np.eye(3)[np.zeros(30, dtype=int)]
    base = np.zeros(5)
    whole = integrated_gradients(AffineSplit(model), X, base, seeds, steps=10, max_steps=10)
    pieces = integrated_gradients(AffineSplit(model), X, base, seeds, steps=10, max_steps=10, budget=70)
    np.testing.assert_allclose(pieces.values, whole.values, rtol=1e-12)


def test_no_rows(rng):
    model = stack("relu", "linear", 1, rng)
    result = integrated_gradients(AffineSplit(model), np.zeros((0, 5)), np.zeros(5), np.zeros((0, 1)))
    assert result.values.shape == (0, 5) and result.gap.shape == (0,)


def test_affine_head_matrix_reproduces_the_layers(rng):
    model = stack("relu", "linear", 1, rng)
    split = AffineSplit(model)
    matrix, offset = split.affine()
    X = rng.normal(size=(5, 5))
    np.testing.assert_allclose(X @ matrix + offset, split.head(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(split.outputs(X), model.predict(X), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_a_shuffle_through_the_affine_head_is_the_model_on_shuffled_rows(activation, rng):
    """Permutation importance shuffles one feature's share of the head, not the input rows."""
    from dlcli.workflows.importance import BATCH_ROWS, _outputs

    model = stack(activation, "softmax", 3, rng)
    split = AffineSplit(model)
    matrix, offset = split.affine()
    X = rng.normal(1.0, 2.0, (BATCH_ROWS + 37, 5))  # more than one batch, the last one short
    Z = X @ matrix + offset
    np.testing.assert_allclose(_outputs(split, Z), model.predict(X), rtol=1e-10, atol=1e-12)
    for columns in ([1], [2, 4]):
        order = rng.permutation(len(X))
        shuffled = X.copy()
        shuffled[:, columns] = X[order][:, columns]
        got = _outputs(split, Z, X[:, columns] @ matrix[columns], order)
        np.testing.assert_allclose(got, model.predict(shuffled), rtol=1e-10, atol=1e-12)
