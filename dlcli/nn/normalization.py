"""BatchNormalization and the Keras preprocessing ``Normalization`` layer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dlcli.errors import ConfigError, DataError

from .base import Layer
from .initializers import get_initializer, initializer_name

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), the floor Normalization puts on the std


class BatchNormalization(Layer):
    """Batch normalisation over the feature axis of ``(n_samples, n_features)`` inputs.

    Training: ``y = gamma * (x - mean_B) / sqrt(var_B + epsilon) + beta`` with the batch's
    biased variance, and moving statistics updated as Keras does,
    ``moving = momentum * moving + (1 - momentum) * batch``. Inference uses the moving
    statistics.
    """

    class_name = "BatchNormalization"
    base_name = "batch_normalization"

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        axis: int | list[int] = -1,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name, trainable)
        if np.atleast_1d(axis).tolist() not in ([-1], [1]):
            raise ConfigError(f"BatchNormalization axis must be -1 for 2-D inputs, got {axis}.")
        if not 0.0 <= float(momentum) <= 1.0 or float(epsilon) <= 0.0:
            raise ConfigError(
                "BatchNormalization needs 0 <= momentum <= 1 and epsilon > 0, "
                f"got momentum={momentum}, epsilon={epsilon}."
            )
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = {
            "beta": initializer_name(beta_initializer),
            "gamma": initializer_name(gamma_initializer),
            "moving_mean": initializer_name(moving_mean_initializer),
            "moving_variance": initializer_name(moving_variance_initializer),
        }
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        # Set by a data-parallel trainer: training batches are normalised with the statistics
        # of the whole global batch (synchronised batch normalisation), as one process would.
        self.sync: Any = None

    def _build(self, input_dim: int, rng: np.random.Generator) -> int:
        def make(key: str) -> np.ndarray:
            return get_initializer(self.initializers[key])((input_dim,), rng, self.dtype)

        self.params = {}
        if self.scale:
            self.params["gamma"] = make("gamma")
        if self.center:
            self.params["beta"] = make("beta")
        self.state = {"moving_mean": make("moving_mean"), "moving_variance": make("moving_variance")}
        return input_dim

    def _gamma(self) -> np.ndarray | float:
        return self.params["gamma"] if self.scale else 1.0

    def forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        if training and self.sync is not None:
            mean, centred, var = self._global_moments(X)
            self._update_moving(mean, var)
        elif training:
            mean = X.mean(axis=0)
            centred = X - mean
            var = np.mean(centred * centred, axis=0)
            self._update_moving(mean, var)
        else:
            mean, var = self.state["moving_mean"], self.state["moving_variance"]
            centred = X - mean
        inv_std = 1.0 / np.sqrt(var + self.dtype.type(self.epsilon))
        x_hat = centred * inv_std
        self._cache = (x_hat, inv_std) if training else (x_hat, -inv_std)  # sign marks mode
        Y: np.ndarray = x_hat * self._gamma()
        if self.center:
            Y += self.params["beta"]
        return Y

    def _update_moving(self, mean: np.ndarray, var: np.ndarray) -> None:
        m = self.dtype.type(self.momentum)
        for key, batch in (("moving_mean", mean), ("moving_variance", var)):
            moving = self.state[key]
            moving *= m
            moving += (1 - m) * batch

    def backward(self, dY: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise ConfigError(f"Layer '{self.name}': backward() called before forward().")
        x_hat, signed_inv_std = self._cache
        if self.scale:
            np.sum(dY * x_hat, axis=0, out=self.grads["gamma"])
        if self.center:
            np.sum(dY, axis=0, out=self.grads["beta"])
        dx_hat = dY * self._gamma()
        dX: np.ndarray
        if signed_inv_std[0] < 0:  # inference statistics are constants
            dX = dx_hat * -signed_inv_std
            return dX
        n = dY.shape[0]
        total, projected = dx_hat.sum(axis=0), np.sum(dx_hat * x_hat, axis=0)
        if self.sync is not None:  # the batch is every rank's rows: so are its sums
            sums = np.concatenate([total, projected, [n]]).astype(np.float64)
            self.sync.allreduce(sums)
            k = len(total)
            total, projected, n = sums[:k].astype(self.dtype), sums[k : 2 * k].astype(self.dtype), int(sums[-1])
        # d/dx of (x - mean) / std through the batch mean and variance.
        inner = n * dx_hat - total - x_hat * projected
        dX = inner * (signed_inv_std / n)
        return dX

    def input_grad(self, dY: np.ndarray) -> np.ndarray:
        if self._cache is None or self._cache[1][0] >= 0:  # training statistics: see forward's sign
            return self.backward(dY)
        dX: np.ndarray = dY * (self._gamma() * -self._cache[1])
        return dX

    def _global_moments(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and (biased) variance over every rank's rows: two small sums, in float64."""
        assert self.sync is not None
        sums = np.append(X.sum(axis=0, dtype=np.float64), X.shape[0])
        self.sync.allreduce(sums)
        mean = (sums[:-1] / sums[-1]).astype(self.dtype)
        centred = X - mean
        squares = np.sum(centred * centred, axis=0, dtype=np.float64)
        self.sync.allreduce(squares)
        var = (squares / sums[-1]).astype(self.dtype)
        return mean, centred, var

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": -1,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **{f"{k}_initializer": v for k, v in self.initializers.items()},
        }

    @classmethod
    def _config_keys(cls) -> tuple[str, ...]:
        return (
            "name",
            "trainable",
            "axis",
            "momentum",
            "epsilon",
            "center",
            "scale",
            "beta_initializer",
            "gamma_initializer",
            "moving_mean_initializer",
            "moving_variance_initializer",
        )


class Normalization(Layer):
    """Feature standardisation as Keras 3's ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)``.

    Keras 3 floors the standard deviation (not the variance) at ``keras.backend.epsilon()``,
    so a constant feature maps to 0. State, as Keras stores it: ``mean`` and ``variance``
    ``(n_features,)``, ``count`` an int64 scalar. Fit it with :meth:`adapt`.
    """

    class_name = "Normalization"
    base_name = "normalization"

    def __init__(
        self,
        axis: int | list[int] = -1,
        invert: bool = False,
        mean: Any = None,
        variance: Any = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name, trainable)
        if np.atleast_1d(axis).tolist() not in ([-1], [1]):
            raise ConfigError(f"Normalization axis must be -1 for 2-D inputs, got {axis}.")
        if invert:
            raise ConfigError("Normalization with invert=True is not supported by dlcli.")
        if (mean is None) != (variance is None):
            raise ConfigError("Normalization needs both mean and variance, or neither.")
        self._init_mean, self._init_variance = mean, variance
        self._X_denominator: np.ndarray | None = None

    def _build(self, input_dim: int, rng: np.random.Generator) -> int:
        mean = np.zeros(input_dim) if self._init_mean is None else self._init_mean
        var = np.ones(input_dim) if self._init_variance is None else self._init_variance
        self.state = {
            "mean": np.broadcast_to(np.asarray(mean, dtype=self.dtype), (input_dim,)).copy(),
            "variance": np.broadcast_to(np.asarray(var, dtype=self.dtype), (input_dim,)).copy(),
            "count": np.zeros((), dtype=np.int64),
        }
        return input_dim

    def adapt(self, X: np.ndarray) -> None:
        """Set ``mean``, ``variance`` (biased, as NumPy/Keras) and ``count`` from ``X``.

        Parameters
        ----------
        X : np.ndarray
            ``(n_samples, n_features)``; builds the layer if needed.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise DataError(f"Normalization.adapt needs a non-empty 2-D array, got shape {X.shape}.")
        self.set_moments(*moments(X[i : i + MOMENT_ROWS] for i in range(0, len(X), MOMENT_ROWS)))

    def set_moments(self, mean: np.ndarray, variance: np.ndarray, count: int) -> None:
        """Set the state from moments computed elsewhere (e.g. streamed by :func:`moments`)."""
        if not self.built:
            self.build(len(mean), np.random.default_rng(0), self.dtype)
        elif len(mean) != self.input_dim:
            raise DataError(f"Normalization '{self.name}' expects {self.input_dim} features, got {len(mean)}.")
        self.state["mean"][...] = mean
        self.state["variance"][...] = variance
        self.state["count"][...] = count

    def _denominator(self) -> np.ndarray:
        denominator: np.ndarray = np.maximum(np.sqrt(self.state["variance"]), self.dtype.type(KERAS_EPSILON))
        return denominator

    def forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        self._X_denominator = self._denominator()
        Y: np.ndarray = (X - self.state["mean"]) / self._X_denominator
        return Y

    def backward(self, dY: np.ndarray) -> np.ndarray:
        denom = self._denominator() if self._X_denominator is None else self._X_denominator
        dX: np.ndarray = dY / denom
        return dX

    def get_config(self) -> dict[str, Any]:
        # mean/variance travel as weights, not in the config (Keras' adapt() layout).
        return {**super().get_config(), "axis": -1, "invert": False, "mean": None, "variance": None}

    @classmethod
    def _config_keys(cls) -> tuple[str, ...]:
        return ("name", "trainable", "axis", "invert", "mean", "variance")


MOMENT_ROWS = 65536  # rows per float64 chunk: the accumulation never copies all of X


def moments(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Column means and biased variances of row chunks, in float64, in one streaming pass.

    Chunks are merged with Chan et al.'s pairwise update (as ``Welford`` for blocks), which
    stays accurate where the naive sum of squares cancels; memory is one chunk in float64.
    """
    count, mean, m2 = 0, np.zeros(0), np.zeros(0)
    for chunk in chunks:
        block = np.asarray(chunk, dtype=np.float64)
        if len(block) == 0:
            continue
        n_b = len(block)
        mean_b = block.mean(axis=0)
        m2_b = ((block - mean_b) ** 2).sum(axis=0)
        if count == 0:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    if count == 0:
        raise DataError("Normalization needs at least one row to adapt to.")
    return mean, m2 / count, count
