"""Element-wise and row-wise activations, spelled as Keras spells them.

Each activation is a pair of kernels that write into a caller-owned ``out`` array so the
layers can reuse per-batch-size buffers instead of allocating on every step:

* ``forward(Z, out)`` writes ``f(Z)`` into ``out`` (``out`` may be ``Z`` itself when the
  activation's ``needs_input`` is false: the backward pass then only reads the output).
* ``backward(dY, Z, Y, out)`` writes the vector-Jacobian product ``dL/dZ`` given
  ``dY = dL/dY``, the pre-activation ``Z`` and the output ``Y``, all ``(n_samples, n_units)``.

``derivative(Z)`` returns the element-wise derivative ``f'(Z)`` for the element-wise ones
(``softmax`` is row-wise and has no element-wise derivative).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlcli.errors import ConfigError

from .registry import Registry

Kernel = Callable[[np.ndarray, np.ndarray], None]
BackwardKernel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]

LEAKY_RELU_SLOPE = 0.2  # Keras 3 default ``negative_slope``
ELU_ALPHA = 1.0
_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_exact_erf = np.frompyfunc(math.erf, 1, 1)  # exact, but one Python call per element
# Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7, about float32's resolution, fully vectorised.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(X: np.ndarray) -> np.ndarray:
    """erf(X) in X's dtype: exact (``math.erf``) for float64, A&S 7.1.26 for float32."""
    if X.dtype == np.float64:
        exact: np.ndarray = _exact_erf(X).astype(np.float64)
        return exact
    x = X.astype(np.float64)  # evaluate the polynomial in float64, round once at the end
    t = 1.0 / (1.0 + _AS_P * np.abs(x))
    poly = t * (_AS_A[0] + t * (_AS_A[1] + t * (_AS_A[2] + t * (_AS_A[3] + t * _AS_A[4]))))
    return (np.sign(x) * (1.0 - poly * np.exp(-x * x))).astype(X.dtype)


@dataclass(frozen=True)
class ActivationFunction:
    """A named activation: forward and backward kernels writing into ``out``.

    Attributes
    ----------
    name : str
        Keras spelling, e.g. ``"relu"``.
    forward : callable
        ``forward(Z, out)``; shapes ``(n_samples, n_units)``.
    backward : callable
        ``backward(dY, Z, Y, out)`` writes ``dL/dZ``.
    needs_input : bool
        True when ``backward`` reads ``Z``; the caller must then keep ``Z`` and may not
        compute the activation in place.
    elementwise : bool
        False for row-wise activations (softmax): they have no element-wise derivative and
        are output activations, not hidden ones.
    """

    name: str
    forward: Kernel
    backward: BackwardKernel
    needs_input: bool = False
    elementwise: bool = True

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """Return ``f(Z)`` in a new array of ``Z``'s dtype."""
        out = np.empty_like(Z)
        self.forward(Z, out)
        return out

    def derivative(self, Z: np.ndarray) -> np.ndarray:
        """Element-wise derivative ``f'(Z)``, shape of ``Z`` (not defined for softmax)."""
        if not self.elementwise:
            raise ConfigError(f"{self.name} is row-wise: use backward() for its Jacobian product.")
        Y = self(Z)
        out = np.empty_like(Z)
        self.backward(np.ones_like(Z), Z, Y, out)
        return out


# --- kernels -------------------------------------------------------------------------


def _linear_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    if out is not Z:
        np.copyto(out, Z)


def _linear_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    if out is not dY:
        np.copyto(out, dY)


def _relu_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.maximum(Z, 0, out=out)


def _relu_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    # Y > 0 exactly where Z > 0, so the output alone decides (lets forward run in place).
    np.multiply(dY, Y > 0, out=out)


def _leaky_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.maximum(Z, Z * LEAKY_RELU_SLOPE, out=out)  # valid because 0 < slope < 1


def _leaky_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    slope = np.where(Y > 0, 1.0, LEAKY_RELU_SLOPE).astype(Y.dtype, copy=False)
    np.multiply(dY, slope, out=out)


def _elu_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    neg = ELU_ALPHA * np.expm1(np.minimum(Z, 0))
    np.copyto(out, np.where(Z > 0, Z, neg))


def _elu_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    # f'(z) = 1 for z > 0, y + alpha otherwise; the sign of y equals the sign of z.
    np.multiply(dY, np.where(Y > 0, 1, Y + ELU_ALPHA), out=out)


def _tanh_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.tanh(Z, out=out)


def _tanh_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    np.multiply(dY, 1 - Y * Y, out=out)


def _sigmoid_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    # 0.5 * (1 + tanh(z/2)) never overflows, unlike 1 / (1 + exp(-z)).
    np.multiply(Z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5


def _sigmoid_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    np.multiply(dY, Y * (1 - Y), out=out)


def _softmax_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)  # shift so exp cannot overflow
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)


def _softmax_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    dot = np.einsum("ij,ij->i", dY, Y)[:, None]
    np.subtract(dY, dot, out=out)
    out *= Y


def _softplus_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.logaddexp(0, Z, out=out)


def _softplus_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    # f'(z) = sigmoid(z) = 1 - exp(-softplus(z)): the output is enough.
    np.multiply(dY, -np.expm1(-Y), out=out)


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    out = np.empty_like(Z)
    _sigmoid_fwd(Z, out)
    return out


def _silu_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    np.multiply(Z, _sigmoid(Z), out=out)


def _silu_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    s = _sigmoid(Z)
    np.multiply(dY, s * (1 + Z * (1 - s)), out=out)


def _gelu_fwd(Z: np.ndarray, out: np.ndarray) -> None:
    # Exact (erf) GELU, Keras' default ``approximate=False``.
    cdf = 0.5 * (1.0 + _erf(Z * _SQRT_HALF))
    np.multiply(Z, cdf, out=out)


def _gelu_bwd(dY: np.ndarray, Z: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    cdf = 0.5 * (1.0 + _erf(Z * _SQRT_HALF))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * Z * Z)
    np.multiply(dY, cdf + Z * pdf, out=out)


ACTIVATIONS: Registry[ActivationFunction] = Registry("activation", instantiate=False)
for _activation in (
    ActivationFunction("linear", _linear_fwd, _linear_bwd),
    ActivationFunction("relu", _relu_fwd, _relu_bwd),
    ActivationFunction("leaky_relu", _leaky_fwd, _leaky_bwd),
    ActivationFunction("elu", _elu_fwd, _elu_bwd),
    ActivationFunction("gelu", _gelu_fwd, _gelu_bwd, needs_input=True),
    ActivationFunction("tanh", _tanh_fwd, _tanh_bwd),
    ActivationFunction("sigmoid", _sigmoid_fwd, _sigmoid_bwd),
    ActivationFunction("softmax", _softmax_fwd, _softmax_bwd, elementwise=False),
    ActivationFunction("softplus", _softplus_fwd, _softplus_bwd),
    ActivationFunction("silu", _silu_fwd, _silu_bwd, needs_input=True),
):
    ACTIVATIONS.add(_activation.name, _activation)

# Activations for which He initialisation is the better default (ReLU-like, unbounded above).
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "gelu", "silu"})


def get_activation(name: str | None) -> ActivationFunction:
    """Look up an activation by its Keras name (``None`` means ``linear``).

    Raises
    ------
    ConfigError
        If the name is unknown; the message lists the valid names.
    """
    return ACTIVATIONS.lookup("linear" if name is None else str(name))
