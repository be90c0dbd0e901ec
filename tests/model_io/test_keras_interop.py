"""Keras interop, both directions: Keras loads dlcli files, dlcli loads Keras .h5 files.

Skipped cleanly when Keras (or a backend for it) is not installed: ``pip install
'dlcli[interop]' torch==2.13.0``. Everything Keras-related stays in this one module because
importing Keras takes seconds.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlcli.model_io import load_model, save_model

from .conftest import N_FEATURES, make_model, raw_inputs

# The backend must be chosen before Keras is first imported; torch is the one CI installs.
if "KERAS_BACKEND" not in os.environ:
    for _backend in ("torch", "jax", "tensorflow"):
        if importlib.util.find_spec(_backend) is not None:
            os.environ["KERAS_BACKEND"] = _backend
            break
try:
    import keras
except ImportError as exc:  # Keras absent, or its backend (torch, jax) missing
    pytest.skip(f"Keras is not usable here: {exc}", allow_module_level=True)

# Keras' own NumPy 2 deprecation noise is not ours to fix.
pytestmark = [pytest.mark.keras, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
TOLERANCE = 1e-5  # max |diff| the issue promises between dlcli and Keras predictions


def keras_predict(model: Any, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(X, verbose=0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keras_loads_a_dlcli_file_and_predicts_the_same(model_path: Path, dtype: str) -> None:
    model = make_model(dtype)
    save_model(model_path, model, schema={"task": "multiclass"}, metadata={"seed": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = keras.models.load_model(model_path, compile=False)
    assert [layer.name for layer in keras_model.layers] == [layer.name for layer in model.layers]
    assert type(keras_model.layers[0]).__name__ == "Normalization"
    X = raw_inputs(200).astype(dtype)  # raw numeric features: Normalization is inside
    diff = np.abs(keras_predict(keras_model, X) - model.predict(X)).max()
    print(f"dlcli -> Keras ({dtype}): max |diff| = {diff:.1e}")
    assert diff <= TOLERANCE
    assert keras_model.count_params() == model.count_params()


def _keras_model() -> Any:
    """A Keras model with every layer type dlcli reads, weights off their initial values."""
    rng = np.random.default_rng(3)
    norm = keras.layers.Normalization()
    norm.adapt(raw_inputs(100, seed=4).astype("float32"))
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            norm,
            keras.layers.Dense(16, activation="tanh", kernel_initializer="random_normal"),
            keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(4, activation="gelu"),
            keras.layers.Dense(2),
            keras.layers.Activation("sigmoid"),
        ],
        name="keras_made",
    )
    for layer in model.layers[1:]:
        weights = layer.get_weights()
        layer.set_weights(
            [
                rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                if i == 3
                else rng.normal(0, 0.5, w.shape).astype(w.dtype)
                for i, w in enumerate(weights)
            ]
        )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_dlcli_loads_a_keras_file_and_predicts_the_same(tmp_path: Path) -> None:
    path = tmp_path / "keras.h5"
    keras_model = _keras_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model.save(path)  # the legacy HDF5 format, chosen by the .h5 suffix
    loaded = load_model(path)
    assert (loaded.format_name, loaded.format_version, loaded.schema) == ("keras-legacy-h5", None, None)
    assert loaded.model.name == "keras_made" and loaded.model.loss.name == "binary_crossentropy"
    X = raw_inputs(200).astype("float32")
    diff = np.abs(loaded.model.predict(X) - keras_predict(keras_model, X)).max()
    print(f"Keras -> dlcli: max |diff| = {diff:.1e}")
    assert diff <= TOLERANCE


def test_keras_file_through_dlcli_and_back(tmp_path: Path) -> None:
    source, again = tmp_path / "keras.h5", tmp_path / "dlcli.h5"
    keras_model = _keras_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model.save(source)
        save_model(again, load_model(source).model)
        reloaded = keras.models.load_model(again, compile=False)
    X = raw_inputs(50).astype("float32")
    assert np.abs(keras_predict(reloaded, X) - keras_predict(keras_model, X)).max() <= TOLERANCE
