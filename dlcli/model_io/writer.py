"""Write a model (and optionally a checkpoint's training state) to one HDF5 file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dlcli import __version__
from dlcli.errors import ConfigError
from dlcli.files import atomic_path

from . import format as fmt
from .keras_config import to_keras_config
from .state_tree import write_tree
from .verify import USERBLOCK, seal


def save_model(
    path: str | Path,
    model: Any,
    *,
    schema: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
) -> None:
    """Save ``model`` to ``path`` atomically, as a dlcli model that Keras can also load.

    Parameters
    ----------
    path : str or Path
        Destination; parent directories are created. An existing file is replaced only
        once the new one is complete and on disk.
    model : dlcli.nn.Sequential
        A built model.
    schema : dict, optional
        The fitted preprocessing (``Schema.to_dict()``), stored as JSON.
    metadata : dict, optional
        Provenance, metrics and history, stored as JSON (NumPy values become Python ones).
    training_state : dict, optional
        A checkpoint's state dict: arrays as datasets, everything else as JSON.

    Raises
    ------
    ConfigError
        If the model is not built.
    TypeError
        If ``training_state`` holds something that cannot be stored without pickle.
    OSError
        If the file cannot be written; no partial file is left at ``path``.
    """
    if not getattr(model, "built", False):
        raise ConfigError(f"Model '{model.name}' is not built: build it before saving.")
    for layer in model.layers:
        if not layer.name or "/" in layer.name or layer.name == ".":
            # The name becomes an HDF5 group; Keras forbids '/' in layer names too.
            raise ConfigError(f"Layer name {layer.name!r} cannot be saved: names must be non-empty and contain no '/'.")
    # Default libver ("earliest"): files stay readable by HDF5 1.8/1.10 tools (h5dump).
    with atomic_path(path) as temp:
        with h5py.File(temp, "w", userblock_size=USERBLOCK) as f:
            _write_root_attributes(f, model)
            _write_weights(f.create_group(fmt.WEIGHTS_GROUP), model)
            _write_dlcli_group(f.create_group(fmt.DLCLI_GROUP), model, schema, metadata, training_state)
        seal(temp)


def _write_root_attributes(f: h5py.File, model: Any) -> None:
    """dlcli's identification plus the attributes Keras' legacy loader reads."""
    f.attrs[fmt.ATTR_FORMAT] = fmt.FORMAT_NAME
    f.attrs[fmt.ATTR_FORMAT_VERSION] = np.int64(fmt.FORMAT_VERSION)
    f.attrs[fmt.ATTR_DLCLI_VERSION] = __version__
    f.attrs[fmt.ATTR_CREATED] = datetime.now(UTC).isoformat(timespec="seconds")
    config = fmt.dumps(to_keras_config(model))
    f.attrs[fmt.ATTR_MODEL_CONFIG] = config
    f.attrs[fmt.ATTR_MODEL_CONFIG_SHA256] = fmt.digest(config)
    f.attrs["keras_version"] = fmt.KERAS_VERSION
    f.attrs["backend"] = fmt.KERAS_BACKEND


def _write_weights(group: h5py.Group, model: Any) -> None:
    """``model_weights`` exactly as Keras' ``save_weights_to_hdf5_group`` lays it out.

    One group per layer (weightless layers too), attribute ``weight_names`` listing
    ``<layer>/<weight>`` paths in Keras order (trainable, then non-trainable), one dataset
    per weight at that path inside the layer's group.
    """
    fmt.write_name_list(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = fmt.KERAS_BACKEND.encode("utf-8")
    group.attrs["keras_version"] = fmt.KERAS_VERSION.encode("utf-8")
    for layer in model.layers:
        layer_group = group.create_group(layer.name)
        weights = layer.get_weights()
        names = [f"{layer.name}/{name}" for name, _ in weights]
        fmt.write_name_list(layer_group, "weight_names", names)
        for name, (_, value) in zip(names, weights, strict=True):
            fmt.create_checked_dataset(layer_group, name, np.asarray(value))
    # Keras 3 writes the (here empty) model-level weights too; mirror it so its loader
    # sees the layout it produces itself.
    fmt.write_name_list(group.create_group("top_level_model_weights"), "weight_names", [])


def _write_dlcli_group(
    group: h5py.Group,
    model: Any,
    schema: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    training_state: dict[str, Any] | None,
) -> None:
    """What Keras cannot express: loss, dtype, schema, metadata, training state."""
    group.attrs["loss"] = model.loss.name
    group.attrs["dtype"] = model.dtype.name
    if schema is not None:
        fmt.write_json_dataset(group, fmt.SCHEMA_DATASET, schema)
    if metadata is not None:
        fmt.write_json_dataset(group, fmt.METADATA_DATASET, metadata)
    if training_state is not None:
        write_tree(group.create_group(fmt.STATE_GROUP), training_state)
