"""Translation between a dlcli ``Sequential`` config and a Keras legacy ``model_config``.

Writing: the dlcli layers already speak Keras (class names, field names, weight order), so
the Keras config is the layer configs behind an ``InputLayer`` inside a named
``Sequential``. Reading: a Keras-written config carries fields dlcli has no use for
(``renorm``, serialised dtype policies, initialisers dlcli does not implement). Those are
dropped when they hold the value that makes them irrelevant; anything that would change the
computation is refused with a message naming the layer and the field.
"""

from __future__ import annotations

from typing import Any

from dlcli.errors import ConfigError
from dlcli.nn import LAYERS
from dlcli.nn.initializers import initializer_name

from .format import LayoutError
from .verify import check_layer_fields

DTYPES = ("float32", "float64")

# Keras-only fields and the values under which dlcli computes the same thing without them.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "renorm": (False,),
    "renorm_clipping": (None,),
    "synchronized": (False,),
    "lora_rank": (None, 0),
    "quantization_config": (None,),
    "activity_regularizer": (None,),
}
# Keras-only fields that never change inference (bookkeeping, or moot given the above).
_IRRELEVANT = ("renorm_momentum", "lora_alpha", "module", "registered_name", "build_config")

# Keras loss names (training_config) -> dlcli registry keys; only used to resume training.
_KERAS_LOSSES = {
    "mse": "mse",
    "mean_squared_error": "mse",
    "MeanSquaredError": "mse",
    "mae": "mae",
    "mean_absolute_error": "mae",
    "MeanAbsoluteError": "mae",
    "huber": "huber",
    "Huber": "huber",
    "binary_crossentropy": "binary_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "categorical_crossentropy",
}


def to_keras_config(model: Any) -> dict[str, Any]:
    """The Keras Sequential config of a built dlcli model (what ``model_config`` holds)."""
    dtype = model.dtype.name
    names = {layer.name for layer in model.layers}
    input_name = "input_layer"
    while input_name in names:  # a user may have named a layer like Keras' input
        input_name += "_0"
    input_layer = {
        "class_name": "InputLayer",
        "config": {
            "batch_shape": [None, model.input_dim],
            "dtype": dtype,
            "sparse": False,
            "ragged": False,
            "name": input_name,
        },
    }
    layers = [{"class_name": _class_name(layer), "config": layer.get_config()} for layer in model.layers]
    return {
        "class_name": "Sequential",
        "config": {
            "name": model.name,
            "trainable": True,
            "dtype": dtype,
            "layers": [input_layer, *layers],
            "build_input_shape": [None, model.input_dim],
        },
    }


def _class_name(layer: Any) -> str:
    return str(getattr(layer, "class_name", type(layer).__name__))


def from_keras_config(keras_config: Any, *, loss: str | None = None, dtype: str | None = None) -> dict[str, Any]:
    """A ``Sequential.from_config`` dict from a Keras ``model_config``.

    Parameters
    ----------
    keras_config : dict
        Parsed ``model_config`` JSON (Keras 2 or 3 spelling).
    loss, dtype : str or None
        dlcli's own values when the file has them; otherwise taken from the Keras config.

    Raises
    ------
    LayoutError
        For non-Sequential models, unknown layer types, non-2-D inputs, unsupported dtypes
        or Keras fields that would change the computation.
    """
    if not isinstance(keras_config, dict) or keras_config.get("class_name") != "Sequential":
        kind = keras_config.get("class_name") if isinstance(keras_config, dict) else None
        raise LayoutError(f"model_config describes a '{kind}' model; dlcli loads Sequential models only")
    body = keras_config.get("config")
    if isinstance(body, list):  # Keras 1 wrote the layer list directly
        body = {"layers": body}
    if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
        raise LayoutError("model_config has no list of layers")
    input_dim = _width(body.get("build_input_shape"))
    found_dtype = None
    layers: list[dict[str, Any]] = []
    for index, spec in enumerate(body["layers"]):
        class_name, config = check_layer_fields(spec, index)
        config = dict(config)
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if shape is not None and not layers:
            input_dim = _width(shape)
        found_dtype = found_dtype or _dtype_name(config.get("dtype"))
        if class_name == "InputLayer":
            continue
        layers.append({"class_name": class_name, "config": _layer_config(class_name, config)})
    if input_dim is None:
        raise LayoutError("model_config does not give the input shape (no InputLayer)")
    model_dtype = dtype or found_dtype or "float32"
    if model_dtype not in DTYPES:
        raise LayoutError(f"the model's dtype is '{model_dtype}'; dlcli computes in {' or '.join(DTYPES)}")
    return {
        "name": body.get("name", "sequential"),
        "input_dim": input_dim,
        "loss": loss or "mse",
        "dtype": model_dtype,
        "layers": layers,
    }


def keras_loss(training_config: Any) -> str | None:
    """dlcli's loss name for a Keras ``training_config``'s loss, if it has a counterpart."""
    if not isinstance(training_config, dict):
        return None
    loss = training_config.get("loss")
    if isinstance(loss, dict):
        loss = loss.get("class_name")
    return _KERAS_LOSSES.get(loss) if isinstance(loss, str) else None


def _width(shape: Any) -> int | None:
    """``n_features`` from ``[None, n_features]``; refuse images and sequences."""
    if shape is None:
        return None
    if not isinstance(shape, (list, tuple)) or len(shape) != 2 or not isinstance(shape[1], int):
        raise LayoutError(f"the model's input shape is {shape}; dlcli models take (n_samples, n_features) inputs")
    return int(shape[1])


def _dtype_name(value: Any) -> str | None:
    """A dtype string from ``"float32"`` or a serialised Keras ``DTypePolicy``."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    return str(value) if value else None


def _layer_config(class_name: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Strip Keras-only fields from one layer's config, refusing the ones that matter."""
    name = config.get("name", "?")
    if class_name not in LAYERS:
        raise LayoutError(f"layer '{name}' is a {class_name}; dlcli supports {', '.join(LAYERS)}")
    kept: dict[str, Any] = {}
    for key, value in config.items():
        if key in _IRRELEVANT:
            continue
        if key in _NEUTRAL:
            if value not in _NEUTRAL[key]:
                raise LayoutError(f"layer '{name}' sets {key}={value!r}, which dlcli does not support")
            continue
        if key.endswith("_initializer") and not _known_initializer(value):
            continue  # weights come from the file; keep dlcli's default initialiser
        kept[key] = value
    return kept


def _known_initializer(spec: Any) -> bool:
    try:
        initializer_name(spec)
    except ConfigError:
        return False
    return True
