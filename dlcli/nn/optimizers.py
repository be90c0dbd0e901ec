"""Optimizers with per-parameter state, in-place updates and exact-resume state dicts.

Update rules (Keras' formulations; ``g`` already includes L2 decay ``weight_decay * w``
except for adamw, whose decay is decoupled):

* sgd:       ``w <- w - lr g``
* momentum:  ``v <- mu v - lr g;  w <- w + v``
* nesterov:  ``v <- mu v - lr g;  w <- w + mu v - lr g``
* adam:      ``m <- b1 m + (1-b1) g;  s <- b2 s + (1-b2) g^2;``
  ``w <- w - lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(s) + eps)``
* adamw:     ``w <- w - lr wd w``, then the adam step on the undecayed gradient
* rmsprop:   ``s <- rho s + (1-rho) g^2;  w <- w - lr g / (sqrt(s) + eps)``

Each state slot is one flat array covering all parameters, with a view per parameter.
When the parameters themselves tile one contiguous buffer (as ``Sequential`` lays them
out) the update runs on the whole buffer at once: a few large ufunc calls per step
instead of a few per parameter, which dominates the cost of small models. The gradients
are the scratch space of the update: after ``step`` they hold garbage.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from dlcli.errors import ConfigError

from . import kernels
from .registry import Registry

StateDict = dict[str, Any]


def _tiled_base(arrays: list[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer that ``arrays`` tile in order without gaps from its start, or ``None``.

    The buffer may go on past the arrays (the model's gradients are followed by status slots):
    then its leading part is returned.
    """
    base = arrays[0].base if arrays else None
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    total = sum(a.size for a in arrays)
    if total > base.size:
        return None
    address, itemsize = base.ctypes.data, base.itemsize
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous or a.ctypes.data != address:
            return None
        address += a.size * itemsize
    return base if total == base.size else base[:total]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _check_unit(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}.")
    return float(value)


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer", argument="hyper-parameter")


class Optimizer:
    """Base class: state handling, weight decay and the flat-buffer fast path."""

    name: ClassVar[str] = "optimizer"
    slots: ClassVar[tuple[str, ...]] = ()
    needs_scratch: ClassVar[bool] = False  # a "_tmp" array besides the gradient

    def __init__(self, weight_decay: float = 0.0) -> None:
        if float(weight_decay) < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}.")
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self._flat: dict[str, np.ndarray] = {}  # slot -> flat state (plus "_tmp" scratch)
        self._views: dict[str, list[np.ndarray]] = {}
        self._layout: tuple[list[np.ndarray], list[np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None = None
        self._lists: tuple[list[np.ndarray], list[np.ndarray], int] | None = None  # the lists last passed to step
        self._cached_groups: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []

    def hyper(self) -> dict[str, float]:
        """Hyper-parameters as passed to the constructor."""
        return {"weight_decay": self.weight_decay}

    # --- state ------------------------------------------------------------------------
    def _ensure_state(self, params: list[np.ndarray]) -> None:
        total = sum(p.size for p in params)
        dtype = params[0].dtype
        scratch = ("_tmp",) if self.needs_scratch or self.weight_decay else ()
        for slot in (*self.slots, *scratch):
            flat = self._flat.get(slot)
            if flat is None or flat.size != total:
                if flat is not None and slot != "_tmp":
                    raise ConfigError(
                        f"{self.name} state has {flat.size} values for slot '{slot}', but the parameters have {total}."
                    )
                self._flat[slot] = np.zeros(total, dtype=dtype)
            elif flat.dtype != dtype:
                self._flat[slot] = flat.astype(dtype)
            self._views[slot] = self._split(self._flat[slot], params)

    @staticmethod
    def _split(flat: np.ndarray, params: list[np.ndarray]) -> list[np.ndarray]:
        views, start = [], 0
        for p in params:
            views.append(flat[start : start + p.size].reshape(p.shape))
            start += p.size
        return views

    def _groups(
        self, params: list[np.ndarray], grads: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
        """Yield ``(p, g, {slot: s})`` groups: one for a tiled flat buffer, else one per param."""
        cached = self._layout
        # The trainer passes the same two lists at every step: checking their identity first
        # skips comparing every array (12 for a 3-layer model with BatchNormalization).
        lists = self._lists
        if lists is not None and lists[0] is params and lists[1] is grads and lists[2] == len(params):
            return self._cached_groups
        self._lists = (params, grads, len(params))
        if cached is None or not (_same(cached[0], params) and _same(cached[1], grads)):
            pbase, gbase = _tiled_base(params), _tiled_base(grads)
            bases = (pbase, gbase) if pbase is not None and gbase is not None else None
            cached = (list(params), list(grads), bases)
            self._layout = cached
            self._ensure_state(params)
        if cached[2] is not None:
            self._cached_groups = [(cached[2][0], cached[2][1], {s: self._flat[s] for s in self._flat})]
        else:
            self._cached_groups = [
                (p, g, {s: self._views[s][i] for s in self._views})
                for i, (p, g) in enumerate(zip(params, grads, strict=True))
            ]
        return self._cached_groups

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        """Update ``params`` in place from ``grads``.

        ``grads`` are used as scratch and hold garbage afterwards: clip or average them
        before this call, never read them after it. The layout is cached by the identity of
        the two lists: pass new lists, not the same ones edited, when the arrays change.
        """
        if len(params) != len(grads):
            raise ConfigError(f"{len(params)} parameters but {len(grads)} gradients.")
        if not params:
            return
        groups = self._groups(params, grads)
        self.iterations += 1
        for p, g, state in groups:
            self._update(p, g, state, float(lr))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def _decay(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Coupled L2: ``g <- g + wd * w`` (the gradient of ``wd/2 * ||w||^2``)."""
        if self.weight_decay:
            tmp = state["_tmp"]
            np.multiply(p, self.weight_decay, out=tmp)
            g += tmp

    def state_dict(self) -> StateDict:
        """Everything needed to resume bit for bit: name, hypers, step count, slot arrays."""
        d: StateDict = {"name": self.name, "iterations": self.iterations, "hyper": self.hyper()}
        for slot in self.slots:
            if slot in self._flat:
                d[slot] = self._flat[slot].copy()
        return d

    def load_state_dict(self, d: StateDict) -> None:
        """Restore from :meth:`state_dict` output (slots are checked at the next step)."""
        if d.get("name") != self.name:
            raise ConfigError(f"Optimizer state is for '{d.get('name')}', not '{self.name}'.")
        self.iterations = int(d["iterations"])
        self._flat = {s: np.array(d[s]).ravel() for s in self.slots if s in d}
        self._views, self._layout, self._lists = {}, None, None


@OPTIMIZERS.register()
class SGD(Optimizer):
    """Plain gradient descent, exactly ``w <- w - lr * g``."""

    name = "sgd"

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        self._decay(p, g, state)
        g *= lr
        p -= g


@OPTIMIZERS.register()
class Momentum(Optimizer):
    """Heavy-ball momentum, Keras form: ``v <- mu v - lr g; w <- w + v``."""

    name = "momentum"
    slots = ("velocity",)
    nesterov = False

    def __init__(self, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        self.momentum = _check_unit("momentum", momentum)

    def hyper(self) -> dict[str, float]:
        return {**super().hyper(), "momentum": self.momentum}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        v = state["velocity"]
        self._decay(p, g, state)
        g *= lr
        v *= self.momentum
        v -= g
        if self.nesterov:  # w += mu v - lr g
            p -= g
            np.multiply(v, self.momentum, out=g)
            p += g
        else:
            p += v


@OPTIMIZERS.register()
class Nesterov(Momentum):
    """Nesterov momentum, Keras form: ``v <- mu v - lr g; w <- w + mu v - lr g``."""

    name = "nesterov"
    nesterov = True


@OPTIMIZERS.register()
class Adam(Optimizer):
    """Adam (Keras' formulation: ``epsilon`` outside the bias-corrected square root).

    The slots hold rescaled moments, ``m = m_keras / (1 - beta_1)`` and
    ``v = v_keras / (1 - beta_2)``, so each moment update is two passes
    (``m <- beta_1 m + g``) and the constant factors fold into the step size and epsilon:
    ``w <- w - lr sqrt(1-b2^t)/(1-b1^t) (1-b1)/sqrt(1-b2) * m / (sqrt(v) + eps/sqrt(1-b2))``,
    which is the same update. The passes are :meth:`dlcli.nn.kernels.NumpyKernels.adam` (or its compiled twin).
    """

    name = "adam"
    slots = ("m", "v")
    decoupled = False

    def __init__(
        self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float = 0.0
    ) -> None:
        super().__init__(weight_decay)
        self.beta_1 = _check_unit("beta_1", beta_1)
        self.beta_2 = _check_unit("beta_2", beta_2)
        if float(epsilon) <= 0:
            raise ConfigError(f"epsilon must be > 0, got {epsilon}.")
        self.epsilon = float(epsilon)

    def hyper(self) -> dict[str, float]:
        return {**super().hyper(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        root = math.sqrt(1.0 - b2)
        alpha = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t) * (1.0 - b1) / root
        decoupled = self.decoupled and self.weight_decay
        decay = 1.0 - lr * self.weight_decay if decoupled else 1.0  # w - lr wd w in one product
        l2 = self.weight_decay if not self.decoupled else 0.0
        # In the parameters' dtype: NumPy rounds a Python float to float32 against a float32
        # array, and the compiled kernels must compute with the very same numbers.
        cast = p.dtype.type
        coefficients = tuple(cast(c) for c in (b1, b2, alpha, self.epsilon / root, decay, l2))
        kernels.active().adam(p, g, state["m"], state["v"], coefficients, state.get("_tmp"))


@OPTIMIZERS.register()
class AdamW(Adam):
    """Adam with decoupled weight decay: ``w <- w - lr wd w`` before the Adam step."""

    name = "adamw"
    decoupled = True

    def __init__(
        self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float = 0.004
    ) -> None:
        super().__init__(beta_1, beta_2, epsilon, weight_decay)


@OPTIMIZERS.register()
class RMSprop(Optimizer):
    """RMSprop: ``s <- rho s + (1-rho) g^2; w <- w - lr g / (sqrt(s) + eps)``."""

    name = "rmsprop"
    slots = ("v",)
    needs_scratch = True

    def __init__(self, rho: float = 0.9, epsilon: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(weight_decay)
        self.rho = _check_unit("rho", rho)
        if float(epsilon) <= 0:
            raise ConfigError(f"epsilon must be > 0, got {epsilon}.")
        self.epsilon = float(epsilon)

    def hyper(self) -> dict[str, float]:
        return {**super().hyper(), "rho": self.rho, "epsilon": self.epsilon}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        v, tmp = state["v"], state["_tmp"]
        self._decay(p, g, state)
        np.square(g, out=tmp)
        tmp -= v
        tmp *= 1.0 - self.rho
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        p -= tmp


def get_optimizer(name: str, **hyper: Any) -> Optimizer:
    """Instantiate an optimizer by name with keyword hyper-parameters.

    Raises
    ------
    ConfigError
        For an unknown name or hyper-parameter; the message lists the valid ones.
    """
    optimizer: Optimizer = OPTIMIZERS.get(name, **hyper)
    return optimizer


def global_norm(grads: list[np.ndarray]) -> float:
    """Euclidean norm of all gradients taken together (per-array sums added in float64)."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads))


def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global norm is at most ``max_norm``.

    Returns
    -------
    float
        The global norm before clipping.
    """
    if float(max_norm) <= 0:
        raise ConfigError(f"clip norm must be > 0, got {max_norm}.")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g *= scale
    return norm
