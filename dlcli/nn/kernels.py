"""The training step's element-wise passes, as NumPy ufuncs or compiled with numba.

Three passes besides the matrix products are worth a kernel of their own: the Adam/AdamW
update (ten ufunc passes over every parameter, 21–41 % of a step of the 784-256-128-10 MLP),
the bias add with ReLU after each hidden layer's product, and ReLU's mask in the backward
pass. :class:`NumpyKernels` is the reference and the fallback; :class:`CompiledKernels` (the
``fast`` extra, numba) does each in one pass over memory with bit-identical results (see
:mod:`._compiled`, also for why it does not use a second core).

The choice is process-wide, like BLAS's thread count: :func:`use` switches it (training does,
from ``train.kernels``), and the layers and the optimizer call :func:`active` at each step.
Inference never switches, so ``predict`` and ``inspect`` never import numba.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import numpy as np

from dlcli.errors import ConfigError

from .registry import Registry

# Below this many trainable parameters the compiled kernels do not pay for themselves in a
# typical run: importing numba and loading the cached kernels costs about 0.2–0.4 s, and the
# update saves roughly 0.8 ns per parameter per step (measured here: 260 → 40–70 µs for
# 235k parameters), so a 5k-parameter tabular net would need ~10^5 steps to break even.
AUTO_MIN_PARAMS = 50_000


class NumpyKernels:
    """NumPy ufunc passes: the reference every other kernel set must reproduce bit for bit."""

    name: ClassVar[str] = "numpy"

    def adam(
        self,
        p: np.ndarray,
        g: np.ndarray,
        m: np.ndarray,
        v: np.ndarray,
        coefficients: tuple[Any, ...],
        scratch: np.ndarray | None,
    ) -> None:
        """One Adam step in place; ``g`` is used as scratch.

        ``coefficients`` are ``(b1, b2, alpha, eps, decay, l2)`` in the parameters' dtype:
        ``g <- g + l2 w`` (coupled L2), ``w <- decay w`` (decoupled), then
        ``m <- b1 m + g; v <- b2 v + g^2; w <- w - alpha m / (sqrt(v) + eps)``. ``scratch``
        (same shape as ``p``) is needed only when ``l2`` is not 0.
        """
        b1, b2, alpha, eps, decay, l2 = coefficients
        if l2:
            np.multiply(p, l2, out=scratch)
            g += scratch
        if decay != 1:
            p *= decay
        m *= b1
        m += g
        np.square(g, out=g)
        v *= b2
        v += g
        np.sqrt(v, out=g)
        g += eps
        np.divide(m, g, out=g)
        g *= alpha
        p -= g

    def bias_relu(self, Z: np.ndarray, bias: np.ndarray) -> None:
        """``Z <- max(Z + bias, 0)`` in place (NaN stays NaN)."""
        Z += bias
        np.maximum(Z, 0, out=Z)

    def relu_grad(self, dY: np.ndarray, Y: np.ndarray) -> None:
        """``dY <- dY * (Y > 0)`` in place: ReLU's backward from its output."""
        np.multiply(dY, Y > 0, out=dY)


class CompiledKernels(NumpyKernels):
    """numba kernels: one pass over memory each."""

    name = "numba"

    def __init__(self) -> None:
        from . import _compiled  # numba: imported here, when training asks for it

        self._c = _compiled

    def adam(
        self,
        p: np.ndarray,
        g: np.ndarray,
        m: np.ndarray,
        v: np.ndarray,
        coefficients: tuple[Any, ...],
        scratch: np.ndarray | None,
    ) -> None:
        self._c.adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *coefficients)

    def bias_relu(self, Z: np.ndarray, bias: np.ndarray) -> None:
        self._c.bias_relu(Z, bias)

    def relu_grad(self, dY: np.ndarray, Y: np.ndarray) -> None:
        self._c.relu_grad(dY.reshape(-1), Y.reshape(-1))


KERNELS: Registry[type[NumpyKernels]] = Registry("kernel set")
KERNELS.add(NumpyKernels.name, NumpyKernels)
KERNELS.add(CompiledKernels.name, CompiledKernels)
CHOICES = ("auto", *KERNELS.names())  # what train.kernels accepts

_active: NumpyKernels = NumpyKernels()
_loaded: dict[str, NumpyKernels] = {NumpyKernels.name: _active}


def compiled_available() -> bool:
    """Whether the ``fast`` extra (numba) is installed, without importing it."""
    return importlib.util.find_spec("numba") is not None


def resolve(name: str, n_params: int) -> str:
    """The kernel set ``name`` stands for: ``auto`` picks numba for models large enough to
    repay its start-up (:data:`AUTO_MIN_PARAMS`) when it is installed, else NumPy."""
    if name == "auto":
        return CompiledKernels.name if n_params >= AUTO_MIN_PARAMS and compiled_available() else NumpyKernels.name
    if name == CompiledKernels.name and not compiled_available():
        raise ConfigError(
            "train.kernels = 'numba' needs numba, which is not installed.",
            hint="Install the extra with: pip install 'dlcli[fast]' (or set train.kernels = 'auto').",
        )
    KERNELS.lookup(name)  # an unknown name lists the valid ones
    return name


def use(name: str) -> NumpyKernels:
    """Make kernel set ``name`` the active one; returns the previous set (for :func:`restore`)."""
    global _active
    previous = _active
    kernels = _loaded.get(name)
    if kernels is None:
        kernels = _loaded[name] = KERNELS.lookup(name)()
    _active = kernels
    return previous


def restore(kernels: NumpyKernels) -> None:
    """Make a set returned by :func:`use` the active one again."""
    global _active
    _active = kernels


def active() -> NumpyKernels:
    """The kernel set the layers and optimizers use now."""
    return _active
