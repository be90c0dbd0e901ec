"""Models with every layer type and no weight at its initial value."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest

from dlcli.nn import Activation, BatchNormalization, Dense, Dropout, Normalization, Sequential

N_FEATURES = 5


def make_model(dtype: str = "float32", seed: int = 0) -> Sequential:
    """Normalization -> Dense(relu) -> BatchNorm -> Dropout -> Dense -> Activation(softmax).

    Raw inputs are far from standardised (mean 3, std 2), so the Normalization layer matters;
    every other weight (BatchNormalization's moving statistics included) is set to random
    values, so nothing round-trips by accident of being zeros or ones. (Setting rather than
    training keeps these tests independent of the training code.)
    """
    rng = np.random.default_rng(seed)
    norm = Normalization()
    model = Sequential(
        [norm, Dense(8, activation="relu"), BatchNormalization(), Dropout(0.25), Dense(3), Activation("softmax")],
        N_FEATURES,
        loss="categorical_crossentropy",
        dtype=dtype,
    ).build(rng)
    X = raw_inputs(64, seed)
    norm.adapt(X)
    for layer in model.layers[1:]:
        for name, value in layer.get_weights():
            draw = rng.uniform(0.5, 1.5, value.shape) if "variance" in name else rng.normal(0, 0.5, value.shape)
            value[...] = draw
    return model


def raw_inputs(n: int = 32, seed: int = 1) -> np.ndarray:
    """Un-standardised numeric features ``(n, N_FEATURES)``."""
    return np.random.default_rng(seed).normal(3.0, 2.0, (n, N_FEATURES))


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    return tmp_path / "model.h5"


@contextmanager
def crafted(path: Path) -> Iterator[h5py.File]:
    """Edit a saved model file, then seal it again: what a crafted (not merely damaged) file
    looks like, so the checks after the seal's are the ones that answer."""
    from dlcli.model_io.verify import seal

    with h5py.File(path, "r+") as f:
        yield f
    seal(path)
