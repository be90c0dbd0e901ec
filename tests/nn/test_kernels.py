"""The compiled kernels (numba, the ``fast`` extra) against the NumPy reference: bit for bit.

Bit-identical, not merely close: a checkpoint written on one path must resume exactly on the
other, and a machine without numba must train the very same model.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcli.errors import ConfigError
from dlcli.nn import Dense, Dropout, Sequential, get_optimizer, kernels
from dlcli.nn.kernels import AUTO_MIN_PARAMS, CompiledKernels, NumpyKernels

# CI installs the test extras, which include numba: a missing numba there is a failure.
COMPILED = CompiledKernels()
REFERENCE = NumpyKernels()
SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, 3e38, -3e38])


@pytest.fixture(autouse=True)
def quiet_overflow() -> Iterator[None]:
    """The inputs include inf, NaN and huge values on purpose: NumPy's warnings are noise."""
    with np.errstate(all="ignore"):
        yield


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit patterns (so NaN equals NaN and -0 differs from 0)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def values(rng: np.random.Generator, n: int, dtype: str, special: bool) -> np.ndarray:
    x = rng.standard_normal(n).astype(dtype) * dtype_scale(rng)
    if special:
        x[rng.integers(0, n, size=max(1, n // 8))] = rng.choice(SPECIAL, size=max(1, n // 8))
    return x


def dtype_scale(rng: np.random.Generator) -> float:
    return float(10.0 ** rng.integers(-6, 4))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3000),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
    decoupled=st.booleans(),
    wd=st.sampled_from([0.0, 1e-4, 0.3]),
    special=st.booleans(),
)
def test_adam_update_is_bit_identical(n, dtype, seed, decoupled, wd, special) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    p, g, m = (values(rng, n, dtype, special) for _ in range(3))
    v = np.abs(values(rng, n, dtype, special))
    cast = np.dtype(dtype).type
    lr, step = 1e-3, int(rng.integers(1, 1000))
    alpha = lr * np.sqrt(1 - 0.999**step) / (1 - 0.9**step) * 0.1 / np.sqrt(0.001)
    decay = 1 - lr * wd if decoupled else 1.0
    l2 = 0.0 if decoupled else wd
    coefficients = tuple(cast(c) for c in (0.9, 0.999, alpha, 1e-7 / np.sqrt(0.001), decay, l2))
    out = []
    for k in (REFERENCE, COMPILED):
        pk, gk, mk, vk = p.copy(), g.copy(), m.copy(), v.copy()
        k.adam(pk, gk, mk, vk, coefficients, np.empty_like(pk))
        out.append((pk, mk, vk))
    for a, b in zip(*out, strict=True):
        assert same(a, b)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 70),
    cols=st.integers(1, 300),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
    special=st.booleans(),
)
def test_bias_relu_and_its_gradient_are_bit_identical(rows, cols, dtype, seed, special) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    Z = values(rng, rows * cols, dtype, special).reshape(rows, cols)
    bias = values(rng, cols, dtype, special)
    dY = values(rng, rows * cols, dtype, special).reshape(rows, cols)
    forward, backward = [], []
    for k in (REFERENCE, COMPILED):
        Zk, dYk = Z.copy(), dY.copy()
        k.bias_relu(Zk, bias)
        k.relu_grad(dYk, Zk)
        forward.append(Zk)
        backward.append(dYk)
    assert same(*forward)
    assert same(*backward)


def test_relu_keeps_nan_so_divergence_is_still_seen() -> None:
    Z = np.array([[np.nan, -1.0, 2.0]], dtype=np.float32)
    COMPILED.bias_relu(Z, np.zeros(3, np.float32))
    assert np.isnan(Z[0, 0]) and Z[0, 1] == 0 and Z[0, 2] == 2


@pytest.fixture
def restore_kernels() -> Iterator[None]:
    previous = kernels.active()
    yield
    kernels.restore(previous)


@pytest.mark.usefixtures("restore_kernels")
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_training_steps_give_the_same_model_on_both_paths(optimizer: str) -> None:
    """A whole MLP (ReLU hidden layers, Dropout, softmax) trained 40 steps each way."""
    finals = []
    for name in ("numpy", "numba"):
        kernels.use(name)
        layers = [Dense(64, "relu"), Dropout(0.2), Dense(32, "relu"), Dense(5, "softmax")]
        model = Sequential(layers, 20, loss="categorical_crossentropy").build(np.random.default_rng(0))
        opt = get_optimizer(optimizer, weight_decay=0.01)
        params, grads = model.parameters(), model.gradients()
        rng = np.random.default_rng(1)
        for _ in range(40):
            X = rng.standard_normal((33, 20), dtype=np.float32)
            model.compute_loss_and_gradients(X, rng.integers(0, 5, 33))
            opt.step(params, grads, 1e-2)
        finals.append(np.concatenate([p.ravel() for p in params]))
    assert same(*finals)


def test_auto_picks_numba_only_for_models_large_enough_to_repay_it() -> None:
    assert kernels.resolve("auto", AUTO_MIN_PARAMS) == "numba"
    assert kernels.resolve("auto", AUTO_MIN_PARAMS - 1) == "numpy"
    assert kernels.resolve("numpy", 10**9) == "numpy"


def test_without_numba_auto_falls_back_and_an_explicit_choice_says_how_to_install(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))
    assert kernels.resolve("auto", 10**7) == "numpy"
    with pytest.raises(ConfigError, match="needs numba") as caught:
        kernels.resolve("numba", 10)
    assert "pip install 'dlcli[fast]'" in (caught.value.raw_hint or "")


def test_an_unknown_kernel_set_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="numba"):
        kernels.resolve("cuda", 10)


def test_the_schema_help_states_the_auto_threshold() -> None:
    from dlcli.config.schema import settings as schema_settings

    kernel_setting = schema_settings()["train.kernels"]
    assert f"{AUTO_MIN_PARAMS:,}" in kernel_setting.help
    assert kernel_setting.valid_choices() == kernels.CHOICES
