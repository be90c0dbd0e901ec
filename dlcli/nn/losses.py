"""Losses; the cross-entropies fused with their output activation and computed from logits.

Convention for every loss: **sum over outputs, mean over samples**, i.e. for predictions
``(n_samples, k)`` the value is ``(1/n) * sum_i sum_j loss(y_ij, y*_ij)``. With one output this
is the plain mean over samples. Gradients returned are ``dL/d(prediction)`` of that value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.errors import ConfigError, DataError

from .registry import Registry

PROBABILITY_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before log
# Logits within this range of each other cannot make exp(z - max) underflow in float32
# (exp(-80) ~ 1.8e-35 > 1.2e-38), so one shift by the batch maximum is enough.
_SAFE_SPREAD = 80.0


LOSSES: Registry[type[Loss]] = Registry(
    "loss",
    aliases={
        "mean_squared_error": "mse",
        "mean_absolute_error": "mae",
        "sparse_categorical_crossentropy": "categorical_crossentropy",
    },
)


class Loss:
    """Base loss on model outputs ``(n_samples, k)``.

    Attributes
    ----------
    name : str
        Registry key.
    fused_activation : str or None
        Output activation this loss fuses with; when the model's last activation matches,
        it calls :meth:`from_logits` instead of the activation followed by :meth:`loss_and_grad`.
    """

    name = "loss"
    fused_activation: str | None = None

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype, check: bool = True) -> np.ndarray:
        """Validate targets and return them as ``(n_samples, k)`` arrays of ``dtype``.

        ``check=False`` skips the checks that read every value (class labels in range):
        for batches of targets already checked as a whole.
        """
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise DataError(f"Targets for loss '{self.name}' must have shape (n, {n_outputs}), got {y.shape}.")
        targets: np.ndarray = y.astype(dtype, copy=False)
        return targets

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        """Return the loss and write ``dL/dy_pred`` into ``out`` (same shape as ``y_pred``)."""
        raise NotImplementedError

    def from_logits(self, logits: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        """Fused loss from pre-activation ``logits``; writes ``dL/dlogits`` into ``out``."""
        raise ConfigError(f"Loss '{self.name}' has no fused output activation.")

    def __call__(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """The loss value for predictions and prepared targets."""
        return self.loss_and_grad(y_pred, y_true, np.empty_like(y_pred))

    def gradient(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """``dL/dy_pred``, shape of ``y_pred``."""
        out = np.empty_like(y_pred)
        self.loss_and_grad(y_pred, y_true, out)
        return out


@LOSSES.register()
class MeanSquaredError(Loss):
    """``L = 1/(2n) * sum_i sum_j (y_ij - y*_ij)^2``; gradient ``(y - y*)/n``.

    The 1/2 makes the gradient the plain residual; the value is half of Keras' ``mse`` for
    one output. ``n`` is the number of samples; outputs are summed, not averaged.
    """

    name = "mse"

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n = int(y_pred.shape[0])
        np.subtract(y_pred, y_true, out=out)
        value = 0.5 * float(np.vdot(out, out)) / n
        out *= 1.0 / n
        return value


@LOSSES.register()
class MeanAbsoluteError(Loss):
    """``L = 1/n * sum_i sum_j |y_ij - y*_ij|``; gradient ``sign(y - y*)/n``."""

    name = "mae"

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n = int(y_pred.shape[0])
        np.subtract(y_pred, y_true, out=out)
        value = float(np.abs(out).sum(dtype=np.float64)) / n
        np.sign(out, out=out)
        out *= 1.0 / n
        return value


@LOSSES.register()
class Huber(Loss):
    """Huber with ``delta``: ``e^2/2`` for ``|e| <= delta``, else ``delta(|e| - delta/2)``;
    summed over outputs, averaged over samples."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        if float(delta) <= 0:
            raise ConfigError(f"huber delta must be > 0, got {delta}.")
        self.delta = float(delta)

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n, d = int(y_pred.shape[0]), self.delta
        err = y_pred - y_true
        abs_err = np.abs(err)
        quad = np.minimum(abs_err, d)
        value = float(np.sum(0.5 * quad * quad + d * (abs_err - quad), dtype=np.float64)) / n
        np.clip(err, -d, d, out=out)
        out *= 1.0 / n
        return value


@LOSSES.register()
class BinaryCrossentropy(Loss):
    """Binary cross-entropy, fused with ``sigmoid``.

    From logits ``z``: ``L = 1/n sum (softplus(z) - y z)``, written as
    ``max(z, 0) - y z + log1p(exp(-|z|))`` so it stays finite for any ``z``;
    gradient ``(sigmoid(z) - y)/n``. Targets ``(n,)`` or ``(n, k)`` in {0, 1}.
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def from_logits(self, logits: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n = int(logits.shape[0])
        z = logits
        value = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        loss = float(value.sum(dtype=np.float64)) / n
        np.multiply(z, 0.5, out=out)  # sigmoid(z) = (1 + tanh(z/2)) / 2, overflow-free
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        out -= y_true
        out *= 1.0 / n
        return loss

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n = int(y_pred.shape[0])
        p = np.clip(y_pred, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
        value = -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
        inside = (y_pred > PROBABILITY_EPSILON) & (y_pred < 1 - PROBABILITY_EPSILON)
        np.multiply((p - y_true) / (p * (1 - p)) * inside, 1.0 / n, out=out)
        return float(value.sum(dtype=np.float64)) / n


@LOSSES.register()
class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy, fused with ``softmax``.

    From logits: ``L = 1/n sum_i (logsumexp(z_i) - z_i[y_i])`` with the max subtracted first,
    gradient ``(softmax(z) - onehot(y))/n``. Targets: integer labels ``(n,)`` (the
    ``sparse`` case) or one-hot / soft labels ``(n, K)``.
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def __init__(self) -> None:
        self._row_starts: dict[tuple[int, int], np.ndarray] = {}
        self._ones_vec = np.ones(0)

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype, check: bool = True) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1 and n_outputs > 1:
            y = y[:, 0]
        if y.ndim != 1:
            return super().prepare_targets(y, n_outputs, dtype)
        labels: np.ndarray = y.astype(np.int64, copy=False)
        if not check:
            return labels
        integral = y.dtype.kind in "iub" or np.array_equal(labels, y)
        if y.size and (not integral or labels.min() < 0 or labels.max() >= n_outputs):
            raise DataError(
                f"Class labels must be integers in [0, {n_outputs - 1}], got values in [{y.min()}, {y.max()}]."
            )
        return labels

    def from_logits(self, logits: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n, k = int(logits.shape[0]), int(logits.shape[1])
        hi = logits.max()
        # Shifting by the batch maximum (one fast reduction) already rules out overflow, and
        # when all logits lie within _SAFE_SPREAD no row sum can underflow either; otherwise
        # shift each row by its own maximum (a slow reduction over a short axis).
        if hi - logits.min() < _SAFE_SPREAD:
            np.subtract(logits, hi, out=out)
        else:
            np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
        labels = y_true.ndim == 1
        if labels:
            flat_index = self._flat_index(n, k, y_true)
            picked = out.reshape(-1).take(flat_index)
        else:
            picked = np.einsum("ij,ij->i", out, y_true)
        np.exp(out, out=out)
        sums = out @ self._ones(k, out.dtype)  # row sums via BLAS, far faster than sum(axis=1)
        log_sums = np.log(sums) if labels else np.log(sums) * y_true.sum(axis=1)
        loss = float(np.sum(log_sums - picked, dtype=np.float64)) / n
        # softmax / n in one pass: scale each row by 1 / (n * row sum).
        sums *= n
        np.reciprocal(sums, out=sums)
        out *= sums[:, None]
        if labels:
            out.reshape(-1)[flat_index] -= out.dtype.type(1.0 / n)
        else:
            out -= y_true * out.dtype.type(1.0 / n)
        return loss

    def _flat_index(self, n: int, k: int, labels: np.ndarray) -> np.ndarray:
        """Positions ``i * k + y_i`` of the true classes in the flattened ``(n, k)`` array."""
        key = (n, k)
        if key not in self._row_starts:
            self._row_starts = {key: np.arange(n, dtype=np.int64) * k}
        positions: np.ndarray = self._row_starts[key] + labels
        return positions

    def _ones(self, k: int, dtype: np.dtype) -> np.ndarray:
        if self._ones_vec.shape != (k,) or self._ones_vec.dtype != dtype:
            self._ones_vec = np.ones(k, dtype=dtype)
        return self._ones_vec

    def loss_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> float:
        n = int(y_pred.shape[0])
        onehot = _one_hot(y_true, y_pred.shape[1], y_pred.dtype)
        p = np.clip(y_pred, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
        value = float(-np.sum(onehot * np.log(p), dtype=np.float64)) / n
        inside = (y_pred > PROBABILITY_EPSILON) & (y_pred < 1 - PROBABILITY_EPSILON)
        np.multiply(-onehot / p * inside, 1.0 / n, out=out)
        return value


def _one_hot(y: np.ndarray, k: int, dtype: np.dtype) -> np.ndarray:
    if y.ndim == 2:
        return y.astype(dtype, copy=False)
    onehot = np.zeros((y.shape[0], k), dtype=dtype)
    onehot[np.arange(y.shape[0]), y] = 1
    return onehot


def get_loss(name: str, **kwargs: Any) -> Loss:
    """Instantiate a loss by registry name (Keras long names are accepted as aliases).

    Raises
    ------
    ConfigError
        If the name is unknown; the message lists the valid names.
    """
    loss: Loss = LOSSES.get(name, **kwargs)
    return loss
