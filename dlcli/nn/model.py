"""The ``Sequential`` model: a stack of layers, a loss, one flat parameter buffer."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.errors import ConfigError, DataError, ModelFileError

from .base import Layer
from .layers import layer_from_config
from .losses import Loss, get_loss

DTYPES = ("float32", "float64")


STATUS_SLOTS = 4  # spare values after the gradients: see gradient_buffer()


class Sequential:
    """A stack of layers trained against one loss.

    Parameters
    ----------
    layers : list of Layer
        Unbuilt layers; unnamed ones get Keras-style names ("dense", "dense_1", ...).
    input_dim : int
        Width of the ``(n_samples, input_dim)`` inputs.
    loss : str or Loss
        Registry name (see :mod:`dlcli.nn.losses`). When the last layer's activation is the
        loss's fused partner (softmax / sigmoid), training computes the loss from logits.
    dtype : {"float32", "float64"}
        Dtype of every parameter, buffer and output.
    name : str
        Model name (the Keras Sequential name).

    Notes
    -----
    After :meth:`build`, all trainable parameters live in one contiguous buffer and each
    layer's ``params`` are views into it (likewise the gradients), so an optimizer can update
    the whole model with a few ufunc calls. Copy into parameters; never rebind them.
    """

    def __init__(
        self,
        layers: list[Layer],
        input_dim: int,
        loss: str | Loss = "mse",
        dtype: str = "float32",
        name: str = "sequential",
    ) -> None:
        if str(dtype) not in DTYPES:
            raise ConfigError(f"Unknown dtype '{dtype}'. Expected one of: {', '.join(DTYPES)}.")
        if int(input_dim) <= 0 or not layers:
            raise ConfigError(
                f"A model needs input_dim > 0 and at least one layer, got "
                f"input_dim={input_dim} and {len(layers)} layers."
            )
        self.layers = list(layers)
        self.input_dim = int(input_dim)
        self.output_dim = 0
        self.loss = get_loss(loss) if isinstance(loss, str) else loss
        self.dtype = np.dtype(str(dtype))
        self.name = name
        self.built = False
        self._assign_names()
        self._params: list[np.ndarray] = []
        self._grads: list[np.ndarray] = []
        self._first_grad_layer = 0
        self._fused = False

    def _assign_names(self) -> None:
        taken = {layer.name for layer in self.layers if layer.name}
        if len(taken) != sum(1 for layer in self.layers if layer.name):
            raise ConfigError("Layer names must be unique within a model.")
        counters: dict[str, int] = {}
        for layer in self.layers:
            if layer.name:
                continue
            i = counters.get(layer.base_name, 0)
            candidate = layer.base_name if i == 0 else f"{layer.base_name}_{i}"
            while candidate in taken:
                i += 1
                candidate = f"{layer.base_name}_{i}"
            counters[layer.base_name] = i + 1
            layer.name = candidate
            taken.add(candidate)

    # --- building -----------------------------------------------------------------------
    def build(self, rng: np.random.Generator) -> Sequential:
        """Initialise every layer's weights from ``rng`` (kept for Dropout); returns self."""
        width = self.input_dim
        for layer in self.layers:
            layer.rng = rng
            width = layer.build(width, rng, self.dtype)
        self.output_dim = width
        self._pack()
        trainable = [i for i, layer in enumerate(self.layers) if self._trains(layer)]
        self._first_grad_layer = trainable[0] if trainable else len(self.layers)
        for i, layer in enumerate(self.layers):
            layer.skip_input_grad = i == self._first_grad_layer
        last = self.layers[-1]
        fused = self.loss.fused_activation
        self._fused = fused is not None and getattr(last, "activation", None) == fused
        self.built = True
        return self

    @staticmethod
    def _trains(layer: Layer) -> bool:
        return layer.trainable and bool(layer.params)

    def _pack(self) -> None:
        """Move trainable params and grads into one flat buffer each, as views."""
        layers = [layer for layer in self.layers if self._trains(layer)]
        total = sum(p.size for layer in layers for p in layer.params.values())
        flat_p = np.empty(total, dtype=self.dtype)
        # The gradients are followed by a few status slots, so a data-parallel step sums its
        # loss, row count and flags in the same Allreduce as the gradients (one call per step).
        self._grad_buffer = np.zeros(total + STATUS_SLOTS, dtype=self.dtype)
        flat_g = self._grad_buffer[:total]
        start = 0
        self._params, self._grads = [], []
        for layer in layers:
            for key, value in list(layer.params.items()):
                stop = start + value.size
                view = flat_p[start:stop].reshape(value.shape)
                view[...] = value
                layer.params[key] = view
                layer.grads[key] = flat_g[start:stop].reshape(value.shape)
                self._params.append(view)
                self._grads.append(layer.grads[key])
                start = stop

    def _require_built(self) -> None:
        if not self.built:
            raise ConfigError(f"Model '{self.name}' is not built: call build(rng) first.")

    # --- computation --------------------------------------------------------------------
    def _inputs(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise DataError(f"Model '{self.name}' expects inputs of shape (n, {self.input_dim}), got {X.shape}.")
        # Cast at the boundary so every layer computes in the model dtype.
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _forward_to_last(self, X: np.ndarray, training: bool) -> np.ndarray:
        H = X
        for layer in self.layers[:-1]:
            H = layer.forward(H, training)
        return H

    def compute_loss_and_gradients(self, X: Any, y: Any, share: float = 1.0, *, checked: bool = False) -> float:
        """Training-mode forward and backward on one batch; fills every layer's ``grads``.

        This is the data-parallel seam: a distributed trainer sums :meth:`gradient_buffer`
        across processes after this call and before the optimizer step.

        Parameters
        ----------
        X : array ``(n_samples, input_dim)``
            May have 0 rows (a rank whose part of a small last batch is empty): the passes
            still run, so layers that synchronise across ranks take part, and the gradients are 0.
        y : targets, see :meth:`dlcli.nn.losses.Loss.prepare_targets`
        share : float
            This batch's fraction of the global batch (``n_rank / n_global``): the output
            gradient is scaled by it, so the gradients summed over ranks are those of the
            global batch's mean loss, with no extra pass over the parameters.
        checked : bool
            The targets were validated as a whole already (the trainer does, once per fit):
            skip the per-batch range check of class labels.

        Returns
        -------
        float
            The batch loss (mean over these rows, without any weight-decay term; 0 for 0 rows).
        """
        self._require_built()
        X = self._inputs(X)
        empty = X.shape[0] == 0
        y = None if empty else self.loss.prepare_targets(y, self.output_dim, self.dtype, check=not checked)
        H = self._forward_to_last(X, True)
        last = self.layers[-1]
        value = 0.0
        if self._fused:
            Z = last.forward_logits(H, True)  # type: ignore[attr-defined]
            if not empty:
                value = self.loss.from_logits(Z, y, Z)  # gradient overwrites the logits in place
            if share != 1.0:
                Z *= self.dtype.type(share)
            d = last.backward_logits(Z)  # type: ignore[attr-defined]
        else:
            P = last.forward(H, True)
            dP = np.zeros_like(P) if empty else np.empty_like(P)
            if not empty:
                value = self.loss.loss_and_grad(P, y, dP)
            if share != 1.0:
                dP *= self.dtype.type(share)
            d = last.backward(dP)
        for i in range(len(self.layers) - 2, self._first_grad_layer - 1, -1):
            d = self.layers[i].backward(d)
        return value

    def predict(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Inference outputs ``(n_samples, output_dim)``: probabilities or values."""
        self._require_built()
        X = self._inputs(X)
        out = np.empty((X.shape[0], self.output_dim), dtype=self.dtype)
        for start in range(0, X.shape[0], batch_size):
            H = self._forward_to_last(X[start : start + batch_size], False)
            out[start : start + batch_size] = self.layers[-1].forward(H, False)
        return out

    def input_gradient(self, X: Any, dP: Any) -> tuple[np.ndarray, np.ndarray]:
        """Inference outputs of ``X`` and the gradient of ``sum(dP * outputs)`` with respect to ``X``.

        Parameters
        ----------
        X : array ``(n_samples, input_dim)``
        dP : array ``(n_samples, output_dim)``
            The output gradient: one-hot rows give each row's gradient of one output.

        Returns
        -------
        (outputs, dX) : arrays ``(n_samples, output_dim)`` and ``(n_samples, input_dim)``, copies.
            Weight gradients are not computed (``grads`` are left as they were).
        """
        self._require_built()
        X = self._inputs(X)
        P = self._forward_to_last(X, False)
        P = self.layers[-1].forward(P, False).copy()
        d = np.array(dP, dtype=self.dtype, copy=True).reshape(P.shape)
        for layer in reversed(self.layers):
            d = layer.input_grad(d)
        return P, np.array(d, copy=True)

    def evaluate_loss(self, X: Any, y: Any, batch_size: int = 4096) -> float:
        """Loss over all samples in inference mode (mean over samples, as in training)."""
        self._require_built()
        X = self._inputs(X)
        y = self.loss.prepare_targets(y, self.output_dim, self.dtype)
        n, total = X.shape[0], 0.0
        if n == 0:
            raise DataError("Cannot evaluate the loss on 0 samples.")
        last = self.layers[-1]
        for start in range(0, n, batch_size):
            H = self._forward_to_last(X[start : start + batch_size], False)
            yb = y[start : start + batch_size]
            if self._fused:
                Z = last.forward_logits(H, False)  # type: ignore[attr-defined]
                value = self.loss.from_logits(Z, yb, np.empty_like(Z))
            else:
                value = self.loss(last.forward(H, False), yb)
            total += value * H.shape[0]
        return float(total / n)

    # --- parameters ---------------------------------------------------------------------
    def parameters(self) -> list[np.ndarray]:
        """Trainable arrays in a stable order (views into one flat buffer)."""
        self._require_built()
        return list(self._params)

    def gradient_buffer(self) -> np.ndarray:
        """The flat gradient buffer every gradient array is a view of, then ``STATUS_SLOTS`` spare values."""
        self._require_built()
        return self._grad_buffer

    def gradients(self) -> list[np.ndarray]:
        """Gradient arrays, same order and shapes as :meth:`parameters`."""
        self._require_built()
        return list(self._grads)

    def count_params(self) -> int:
        """Number of values in all weights, trainable and not (as Keras counts them)."""
        return sum(int(np.size(w)) for layer in self.layers for _, w in layer.get_weights())

    # --- config and weights -------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-able architecture: name, input_dim, loss, dtype and Keras-style layer configs."""
        return {
            "name": self.name,
            "input_dim": self.input_dim,
            "loss": self.loss.name,
            "dtype": self.dtype.name,
            "layers": [{"class_name": layer.class_name, "config": layer.get_config()} for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Rebuild from :meth:`get_config` output; the model is returned built (weights
        initialised from a fixed generator) so ``set_weights`` can follow directly."""
        try:
            layers = [layer_from_config(spec["class_name"], dict(spec["config"])) for spec in config["layers"]]
            model = cls(
                layers,
                int(config["input_dim"]),
                loss=config.get("loss", "mse"),
                dtype=config.get("dtype", "float32"),
                name=config.get("name", "sequential"),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"Invalid model config: missing or malformed {exc}.") from None
        return model.build(np.random.default_rng(0))

    def get_weights(self) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Layer name -> ``[(weight name, copy of array), ...]`` in Keras order."""
        return {
            layer.name: [(k, v.copy()) for k, v in layer.get_weights()]  # type: ignore[misc]
            for layer in self.layers
        }

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        """Copy weights in by layer name; layers without weights may be omitted.

        Raises
        ------
        ModelFileError
            On an unknown or missing layer, weight name or shape mismatch.
        """
        self._require_built()
        by_name = {layer.name: layer for layer in self.layers}
        unknown = [name for name in weights if name not in by_name]
        if unknown:
            raise ModelFileError(f"Weights for unknown layer '{unknown[0]}'. Model layers: {', '.join(by_name)}.")  # type: ignore[arg-type]
        for layer in self.layers:
            if layer.get_weights() or layer.name in weights:
                if layer.name not in weights:
                    raise ModelFileError(f"No weights for layer '{layer.name}'.")
                layer.set_weights(dict(weights[layer.name]))

    def copy_weights(self) -> list[np.ndarray]:
        """Copies of every weight (trainable and state), for restore-best."""
        return [w.copy() for layer in self.layers for _, w in layer.get_weights()]

    def restore_weights(self, saved: list[np.ndarray]) -> None:
        """Copy :meth:`copy_weights` output back in place."""
        targets = [w for layer in self.layers for _, w in layer.get_weights()]
        if len(saved) != len(targets):
            raise ModelFileError(f"Expected {len(targets)} saved arrays, found {len(saved)}.")
        for target, value in zip(targets, saved, strict=True):
            np.copyto(target, value)
