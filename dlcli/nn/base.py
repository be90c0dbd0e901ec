"""The ``Layer`` base class: weights, per-batch-size buffers, Keras-style config."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dlcli.errors import ConfigError, ModelFileError

# Fields that carry no meaning for dlcli whatever their value (randomness comes from the
# model generator, the model decides the dtype).
_IGNORED_ALWAYS = ("dtype", "synchronized", "build_config", "input_dim", "batch_input_shape", "seed")

_MAX_BUFFERED_SIZES = 6  # distinct batch sizes kept per layer (train, last batch, eval, ...)


class Layer:
    """Base class of every layer.

    Attributes
    ----------
    name : str or None
        Unique within a model; the model assigns Keras-style names ("dense", "dense_1").
    params : dict[str, np.ndarray]
        Trainable arrays in Keras weight order. Once a model is built they are views into
        one flat buffer: update them in place, never rebind them.
    grads : dict[str, np.ndarray]
        Same keys and shapes as ``params``, filled in place by ``backward``.
    state : dict[str, np.ndarray]
        Non-trainable arrays (moving statistics, normalisation constants).
    rng : np.random.Generator or None
        Set by the model; only layers that draw random numbers (Dropout) use it.
    """

    class_name: ClassVar[str] = "Layer"
    base_name: ClassVar[str] = "layer"

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        self.name = name
        self.trainable = bool(trainable)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.rng: np.random.Generator | None = None
        self.dtype: np.dtype = np.dtype(np.float32)
        self.input_dim = 0
        self.output_dim = 0
        self.built = False
        # The model sets this on its first layer: nobody needs dL/dX of the data.
        self.skip_input_grad = False
        self._buffers: dict[tuple[str, int], np.ndarray] = {}

    # --- construction -----------------------------------------------------------------
    def build(self, input_dim: int, rng: np.random.Generator, dtype: np.dtype) -> int:
        """Create the weights for inputs of width ``input_dim``; return the output width."""
        self.input_dim = int(input_dim)
        self.dtype = np.dtype(dtype)
        self.output_dim = self._build(self.input_dim, rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._buffers.clear()
        self.built = True
        return self.output_dim

    def _build(self, input_dim: int, rng: np.random.Generator) -> int:
        return input_dim

    def _buffer(self, key: str, rows: int, cols: int, dtype: Any = None) -> np.ndarray:
        """A reusable ``(rows, cols)`` work array; contents are overwritten by the caller."""
        buf = self._buffers.get((key, rows))
        if buf is None or buf.shape[1] != cols:
            if len(self._buffers) > _MAX_BUFFERED_SIZES * 4:
                self._buffers.clear()
            buf = np.empty((rows, cols), dtype=self.dtype if dtype is None else dtype)
            self._buffers[(key, rows)] = buf
        return buf

    # --- computation --------------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        """Map ``(n_samples, input_dim)`` to ``(n_samples, output_dim)``.

        The result may be a buffer owned by the layer, valid until the next ``forward``
        with the same number of rows: copy it to keep it.
        """
        raise NotImplementedError

    def backward(self, dY: np.ndarray) -> np.ndarray:
        """Given ``dL/dY`` ``(n_samples, output_dim)``, fill ``grads`` and return ``dL/dX``.

        ``dY`` may be overwritten (layers use it as scratch); pass a copy to keep it.
        """
        raise NotImplementedError

    def input_grad(self, dY: np.ndarray) -> np.ndarray:
        """``dL/dX`` from ``dL/dY`` after an inference-mode ``forward``, without touching ``grads``.

        The attribution pass (``dlcli explain``) needs only the inputs' gradient, so layers
        with weights skip the weight-gradient products that ``backward`` computes (half the
        work of a Dense layer). Layers without weights have nothing to skip.
        """
        return self.backward(dY)

    # --- weights ------------------------------------------------------------------------
    def get_weights(self) -> list[tuple[str, np.ndarray]]:
        """Trainable then non-trainable arrays, in Keras order (the arrays themselves)."""
        return list(self.params.items()) + list(self.state.items())

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy ``weights`` (name -> array) into this layer's arrays, checking names and shapes.

        Raises
        ------
        ModelFileError
            If a weight is missing, unexpected, or has the wrong shape.
        """
        own = dict(self.get_weights())
        missing = [k for k in own if k not in weights]
        extra = [k for k in weights if k not in own]
        if missing or extra:
            raise ModelFileError(f"Layer '{self.name}': expected weights {list(own)}, found {list(weights)}.")
        for key, target in own.items():
            value = np.asarray(weights[key])
            if value.shape != target.shape:
                raise ModelFileError(
                    f"Layer '{self.name}': weight '{key}' expected shape {target.shape}, found {value.shape}."
                )
        for key, target in own.items():
            # Copy into the existing array: params are views into the model's flat buffer.
            np.copyto(target, np.asarray(weights[key]), casting="unsafe")

    # --- config -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments with Keras field names."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Build an (unbuilt) layer from ``get_config()`` output or a Keras layer config."""
        return cls(**cls._constructor_args(config))

    @classmethod
    def _constructor_args(cls, config: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for key, value in config.items():
            # Keras adds fields over releases (lora_rank, quantization_config, ...); an unset
            # one changes nothing, so only a field with a value dlcli cannot honour is an error.
            if key in _IGNORED_ALWAYS or (value is None and key not in cls._config_keys()):
                continue
            if key not in cls._config_keys():
                raise ConfigError(f"{cls.class_name} field '{key}' = {value!r} is not supported by dlcli.")
            args[key] = value
        return args

    @classmethod
    def _config_keys(cls) -> tuple[str, ...]:
        return ("name", "trainable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, out={self.output_dim})"
