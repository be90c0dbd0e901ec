"""Integrated gradients and permutation passes over a :class:`Sequential` model.

Integrated gradients (Sundararajan et al., 2017) attribute ``f(x) - f(b)`` to the inputs as
``(x - b) * integral of df/dx along the straight path from b to x``. The integral is a
quadrature over ``steps`` points, and every point of every row of a chunk goes through the
network as one batch: a forward pass and an input-gradient pass (``Layer.input_grad``, no
weight gradients) of ``rows * steps`` rows.

The layers up to the first Dense's pre-activation are affine at inference (Normalization,
BatchNormalization with moving statistics, Dropout as identity, the Dense product), so along
the path that pre-activation is ``Z(b) + a * (Z(x) - Z(b))``: it is computed for the rows, not
for every step, and the gradient summed over the steps goes back through those layers once per
row. This is the same integral, not an approximation; it removes the widest matmul (the input
layer's) from the per-step work. Permutation importance uses the same split: permuting a
feature's columns changes the pre-activation by a low-rank product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .activations import ActivationFunction, get_activation
from .base import Layer
from .layers import Dense, Dropout
from .model import Sequential
from .normalization import BatchNormalization, Normalization
from .registry import Registry

Quadrature = Callable[[int], tuple[np.ndarray, np.ndarray]]

QUADRATURES: Registry[Quadrature] = Registry("integration method", instantiate=False)


@QUADRATURES.register("gausslegendre")
@lru_cache(maxsize=16)  # the nodes of 3200 points take seconds to find: once per count
def _gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [0, 1] (Captum's default): exact for polynomials of degree < 2 * steps."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


@QUADRATURES.register("riemann_middle")
def _riemann_middle(steps: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)


@QUADRATURES.register("riemann_trapezoid")
def _riemann_trapezoid(steps: int) -> tuple[np.ndarray, np.ndarray]:
    if steps < 2:
        return np.array([1.0]), np.array([1.0])
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2.0
    return np.linspace(0.0, 1.0, steps), weights


# A ReLU network's path gradient is a step function: quadrature error falls as 1/steps, and
# a row whose path crosses a large step needs many points. Rows over the tolerance are redone
# with doubled steps up to this factor; on the bundled samples every row then meets 1%.
REFINE_FACTOR = 64

_AFFINE_AT_INFERENCE = (Normalization, BatchNormalization, Dropout)


class AffineSplit:
    """A model cut after its first Dense's pre-activation: ``head`` (affine) and ``tail``.

    ``head(X) = X @ matrix + offset``; ``tail(Z)`` applies the first Dense's activation and every
    later layer. A model whose first Dense is preceded by a non-affine layer (an Activation) has
    an empty head: ``head`` is the identity and ``tail`` the whole model.
    """

    def __init__(self, model: Sequential) -> None:
        self.model = model
        layers = model.layers
        first = next((i for i, layer in enumerate(layers) if isinstance(layer, Dense)), None)
        if first is None or not all(isinstance(layer, _AFFINE_AT_INFERENCE) for layer in layers[:first]):
            self.prefix: list[Layer] = []
            self.dense: Dense | None = None
            self.rest = list(layers)
            self.activation: ActivationFunction | None = None
            self.width = model.input_dim
        else:
            dense = layers[first]
            assert isinstance(dense, Dense)
            self.prefix, self.dense, self.rest = list(layers[:first]), dense, list(layers[first + 1 :])
            self.activation = get_activation(dense.activation)
            self.width = dense.units
        self._affine: tuple[np.ndarray, np.ndarray] | None = None

    # --- the affine head ----------------------------------------------------------------
    def head(self, X: np.ndarray) -> np.ndarray:
        """``(n, width)`` pre-activations (a copy), computed by the layers themselves."""
        H = np.ascontiguousarray(X, dtype=self.model.dtype)
        if self.dense is None:
            return H.copy()
        for layer in self.prefix:
            H = layer.forward(H, False)
        return self.dense.forward_logits(H, False).copy()

    def head_input_grad(self, dZ: np.ndarray) -> np.ndarray:
        """The head's transpose applied to ``dZ``, after a :meth:`head` pass (of any rows: an
        affine map's transpose does not depend on the point)."""
        if self.dense is None:
            return dZ
        d: np.ndarray = dZ @ self.dense.params["kernel"].T
        for layer in reversed(self.prefix):
            d = layer.input_grad(d)
        return d

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(matrix, offset)`` of the head, from passes of the zero and unit vectors."""
        if self._affine is None:
            d = self.model.input_dim
            basis = np.vstack([np.zeros((1, d)), np.eye(d)])
            Z = self.head(basis)
            self._affine = (Z[1:] - Z[0], Z[0].copy())
        return self._affine

    # --- the tail -----------------------------------------------------------------------
    def tail(self, Z: np.ndarray) -> np.ndarray:
        """Inference outputs ``(n, output_dim)`` from pre-activations (a layer buffer); ``Z``
        may be overwritten (the activation runs in place where its backward allows)."""
        H = Z
        if self.activation is not None and self.activation.name != "linear":
            H = np.empty_like(Z) if self.activation.needs_input else Z
            self.activation.forward(Z, H)
        self._tail_io = (Z, H)
        for layer in self.rest:
            H = layer.forward(H, False)
        return H

    def tail_input_grad(self, dP: np.ndarray) -> np.ndarray:
        """``dP`` back to the pre-activations, after a :meth:`tail` pass of as many rows."""
        d = dP
        for layer in reversed(self.rest):
            d = layer.input_grad(d)
        if self.activation is not None and self.activation.name != "linear":
            Z, H = self._tail_io
            d = np.array(d, copy=True) if d is dP else d
            self.activation.backward(d, Z, H, d)
        return d

    def outputs(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Inference outputs of ``X`` through head and tail, in batches (a new array)."""
        out = np.empty((len(X), self.model.output_dim), dtype=self.model.dtype)
        for start in range(0, len(X), batch_size):
            out[start : start + batch_size] = self.tail(self.head(X[start : start + batch_size]))  # head copies
        return out


@dataclass
class Attributions:
    """Integrated gradients of ``rows`` rows over the model's input columns.

    ``values`` ``(rows, input_dim)``; ``at_x`` / ``at_baseline`` the attributed output at the
    row and at the baseline (``values`` sum to their difference, up to ``gap``); ``gap`` per row,
    ``|sum - difference| / max(|difference|, floor)``; ``steps`` per row, after refinement.
    """

    values: np.ndarray
    at_x: np.ndarray
    at_baseline: np.ndarray
    gap: np.ndarray
    steps: np.ndarray


# Values in the widest array of one path batch (rows * steps * width): 2^21 float32 values
# are 8 MiB, a few such arrays per layer, whatever the chunk or the refined step count.
PATH_VALUES = 1 << 21


def path_rows(split: AffineSplit, steps: int, budget: int = PATH_VALUES) -> int:
    """How many rows' paths of ``steps`` points go through the network as one batch."""
    widest = max([split.width] + [layer.output_dim for layer in split.rest])
    return max(1, budget // (steps * widest))


def integrated_gradients(
    split: AffineSplit,
    X: np.ndarray,
    baseline: np.ndarray,
    seeds: np.ndarray,
    *,
    steps: int = 50,
    method: str = "gausslegendre",
    tolerance: float = 0.01,
    floor: float = 1e-3,
    max_steps: int | None = None,
    budget: int = PATH_VALUES,
) -> Attributions:
    """Attributions of ``sum(seeds * outputs)`` per row, from ``baseline`` ``(input_dim,)``.

    ``seeds`` ``(rows, output_dim)`` chooses what is attributed: a one-hot row for one class's
    probability, ``-1`` for a binary model's first class, a scale for a regression unit. Rows
    whose gap exceeds ``tolerance`` are computed again with twice the steps, up to
    ``max_steps`` (default ``REFINE_FACTOR * steps``). Rows go through in batches of :func:`path_rows`,
    so memory is bounded by ``budget`` values per array whatever the number of rows.
    """
    X = np.ascontiguousarray(X, dtype=split.model.dtype)
    seeds = np.asarray(seeds, dtype=split.model.dtype)
    base = np.ascontiguousarray(baseline, dtype=split.model.dtype).reshape(1, -1)
    zb = split.head(base)
    zx = split.head(X)
    # The tail may overwrite its input (in-place activations): it gets copies.
    at_baseline = seeds @ split.tail(zb.copy())[0]
    at_x = np.sum(split.tail(zx.copy()) * seeds, axis=1)
    values = np.empty_like(X)
    used = np.full(len(X), steps)
    todo = np.arange(len(X))
    limit = max_steps or REFINE_FACTOR * steps
    gap = np.zeros(len(X))
    current = steps
    while len(todo):  # bounded: steps double up to ``limit``
        piece = path_rows(split, current, budget)
        grads = np.concatenate(
            [
                _path_gradients(split, zx[todo[i : i + piece]], zb, seeds[todo[i : i + piece]], current, method)
                for i in range(0, len(todo), piece)
            ]
        )
        values[todo] = (X[todo] - base) * split.head_input_grad(grads)
        used[todo] = current
        diff = at_x[todo] - at_baseline[todo]
        gap[todo] = np.abs(values[todo].sum(axis=1, dtype=np.float64) - diff) / np.maximum(np.abs(diff), floor)
        todo = todo[gap[todo] > tolerance]
        if current * 2 > limit:
            break
        current *= 2
    return Attributions(values, at_x, at_baseline, gap, used)


def _path_gradients(
    split: AffineSplit, zx: np.ndarray, zb: np.ndarray, seeds: np.ndarray, steps: int, method: str
) -> np.ndarray:
    """``(rows, width)``: the quadrature of d(seeded output)/dZ along each row's path."""
    alphas, weights = QUADRATURES.lookup(method)(steps)
    dtype = split.model.dtype
    rows, width = zx.shape
    path = np.empty((rows, steps, width), dtype=dtype)
    np.multiply(alphas.astype(dtype)[None, :, None], (zx - zb)[:, None, :], out=path)
    path += zb
    split.tail(path.reshape(rows * steps, width))
    dP = np.repeat(seeds, steps, axis=0)
    dZ = split.tail_input_grad(dP).reshape(rows, steps, width)
    summed: np.ndarray = np.matmul(weights.astype(dtype), dZ)
    return summed
