"""Weight initialisers with Keras names and Keras' variance-scaling formulas.

Draws are made in float64 from the model's generator and then cast, so a float32 and a
float64 model built from the same seed start from the same (rounded) weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import RELU_FAMILY
from .registry import Registry

Initializer = Callable[[tuple[int, ...], np.random.Generator, np.dtype], np.ndarray]

# Std of a unit normal truncated to [-2, 2]; Keras divides by it so the truncated draw
# keeps the intended variance.
_TRUNCATION_STD = 0.87962566103423978


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(shape: tuple[int, ...], std: float, rng: np.random.Generator) -> np.ndarray:
    """Normal draws with |x| <= 2 std, re-drawing the ones outside (as Keras does)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * std


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    def init(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
        variance = scale / max(1.0, fan)
        if distribution == "normal":
            values = _truncated_normal(shape, math.sqrt(variance) / _TRUNCATION_STD, rng)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        return values.astype(dtype)

    return init


def _zeros(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def _ones(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


# Keras serialises initialisers as {"class_name": "GlorotUniform", ...}: both spellings work.
INITIALIZERS: Registry[Initializer] = Registry(
    "initializer",
    instantiate=False,
    aliases={
        "HeNormal": "he_normal",
        "HeUniform": "he_uniform",
        "GlorotNormal": "glorot_normal",
        "GlorotUniform": "glorot_uniform",
        "Zeros": "zeros",
        "Ones": "ones",
    },
)
INITIALIZERS.add("he_normal", _variance_scaling(2.0, "fan_in", "normal"))
INITIALIZERS.add("he_uniform", _variance_scaling(2.0, "fan_in", "uniform"))
INITIALIZERS.add("glorot_normal", _variance_scaling(1.0, "fan_avg", "normal"))
INITIALIZERS.add("glorot_uniform", _variance_scaling(1.0, "fan_avg", "uniform"))
INITIALIZERS.add("zeros", _zeros)
INITIALIZERS.add("ones", _ones)


def initializer_name(spec: Any) -> str:
    """Normalise a Keras initialiser spec (name or serialised dict) to a registry key.

    Raises
    ------
    ConfigError
        If the initialiser is not one dlcli implements.
    """
    name = spec
    if isinstance(spec, dict):
        name = spec.get("class_name", spec.get("config", {}).get("name"))
    return INITIALIZERS.canonical(str(name))


def get_initializer(spec: Any) -> Initializer:
    """Return the initialiser for a name or Keras dict spec; see :func:`initializer_name`."""
    return INITIALIZERS.lookup(initializer_name(spec))


def default_kernel_initializer(activation: str | None) -> str:
    """He (normal) for the ReLU family, Glorot uniform otherwise."""
    return "he_normal" if activation in RELU_FAMILY else "glorot_uniform"
