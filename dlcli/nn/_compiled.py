"""numba versions of the training step's element-wise passes (the ``fast`` extra).

Imported only by :func:`dlcli.nn.kernels.use` when training asks for compiled kernels, never
by ``--help``, ``predict`` or ``inspect``: ``import numba`` alone costs about 130 ms.

Each kernel performs the same IEEE operations, in the same order and in the array's own
dtype, as the NumPy reference in :mod:`dlcli.nn.kernels`, so the two paths give bit-identical
results (tests/nn/test_kernels.py holds them to it). That is why ``fastmath`` stays off: it
would allow FMA contraction and reordering, which change the last bits, and would make the
result depend on how an array's address happens to align with the vector loop. The
``numpy`` error model is what lets LLVM vectorise the loops (no zero-division checks).

The loops are serial on purpose. ``prange`` versions ran the Adam update in 38 µs instead of
70 µs on two cores when measured alone, but inside a training step numba's threads fight the
BLAS threads that have just finished a matrix product and are still spinning on the same
cores: with OpenMP as numba's threading layer the update took 5–6 ms, with its workqueue
layer 170–230 µs, both slower than the serial 80 µs.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_OPTIONS: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}


@numba.njit(**_OPTIONS)  # type: ignore[untyped-decorator]
def adam(p: Any, g: Any, m: Any, v: Any, b1: Any, b2: Any, alpha: Any, eps: Any, decay: Any, l2: Any) -> None:
    """See ``NumpyKernels.adam``; all arrays 1-D and contiguous, scalars in their dtype."""
    for i in range(p.size):
        pi = p[i]
        gi = g[i]
        if l2 != 0:
            gi = gi + pi * l2  # coupled L2: g + wd * w
        if decay != 1:
            pi = pi * decay  # decoupled: w - lr * wd * w, as w * (1 - lr * wd)
        mi = m[i] * b1 + gi
        vi = v[i] * b2 + gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = pi - (mi / (np.sqrt(vi) + eps)) * alpha


@numba.njit(**_OPTIONS)  # type: ignore[untyped-decorator]
def bias_relu(Z: Any, bias: Any) -> None:
    """``Z <- max(Z + bias, 0)`` in place, ``Z`` 2-D and C-contiguous."""
    zero = Z.dtype.type(0)
    for r in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            z = Z[r, j] + bias[j]
            # As np.maximum(z, 0): a NaN survives (so divergence is still detected) and -0
            # becomes +0.
            Z[r, j] = zero if z <= zero else z


@numba.njit(**_OPTIONS)  # type: ignore[untyped-decorator]
def relu_grad(dY: Any, Y: Any) -> None:
    """``dY <- dY * (Y > 0)`` in place, both 1-D: a product with 1 or 0, as NumPy computes it,
    so ``-x * 0`` stays ``-0`` and NaN stays NaN."""
    one, zero = dY.dtype.type(1), dY.dtype.type(0)
    for i in range(dY.size):
        dY[i] = dY[i] * (one if Y[i] > 0 else zero)
