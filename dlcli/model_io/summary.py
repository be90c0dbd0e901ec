"""``read_summary``: what a model file holds, verified as loading verifies it.

``dlcli inspect`` never reports a config the weights contradict: the file passes the same
checks as :func:`~dlcli.model_io.load_model` (self-contained, declared shapes, weight
checksums, finite values) before anything is summarised. The training state is reported
as present, not decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from . import format as fmt
from .reader import build_model, layer_datasets, nn_config, open_model_file, read_json, read_weights

# Weights Keras keeps non-trainable whatever the layer's ``trainable`` flag.
NON_TRAINABLE = frozenset({"moving_mean", "moving_variance", "mean", "variance", "count"})


def read_summary(path: str | Path) -> dict[str, Any]:
    """Layers, shapes, parameter counts, schema, metadata and metrics of a model file.

    Returns
    -------
    dict
        JSON-able: ``path``, ``format_name``, ``format_version``, ``dlcli_version``,
        ``created``, ``keras_version``, ``name``, ``input_dim``, ``dtype``, ``loss``,
        ``layers`` (each ``name``, ``class_name``, ``output_dim``, ``weights`` name ->
        shape, ``params``, ``trainable_params``, ``config``), ``params``,
        ``trainable_params``, ``schema``, ``metadata``, ``metrics``,
        ``has_training_state``.

    Raises
    ------
    ModelFileError
        As :func:`dlcli.model_io.load_model` for unreadable or foreign files.
    """
    with open_model_file(path) as (f, info):
        model = build_model(f)
        read_weights(f[fmt.WEIGHTS_GROUP], model.layers)
        config = nn_config(f)
        layers = _layers(f[fmt.WEIGHTS_GROUP], config)
        group = f.get(fmt.DLCLI_GROUP)
        schema = metadata = None
        has_state = False
        if isinstance(group, h5py.Group):
            schema, metadata = read_json(group, fmt.SCHEMA_DATASET), read_json(group, fmt.METADATA_DATASET)
            has_state = fmt.STATE_GROUP in group
    return {
        "path": str(path),
        "format_name": info.format_name,
        "format_version": info.format_version,
        "dlcli_version": info.dlcli_version,
        "created": info.created,
        "keras_version": info.keras_version,
        "name": config["name"],
        "input_dim": config["input_dim"],
        "dtype": config["dtype"],
        "loss": config["loss"],
        "layers": layers,
        "params": sum(layer["params"] for layer in layers),
        "trainable_params": sum(layer["trainable_params"] for layer in layers),
        "schema": schema,
        "metadata": metadata,
        "metrics": (metadata or {}).get("metrics", {}) if isinstance(metadata, dict) else {},
        "has_training_state": has_state,
    }


def _layers(weights: h5py.Group, config: dict[str, Any]) -> list[dict[str, Any]]:
    width = int(config["input_dim"])
    rows = []
    for spec in config["layers"]:
        layer_config = spec["config"]
        name = str(layer_config.get("name"))
        shapes = {key: list(dataset.shape) for key, dataset in _datasets(weights, name).items()}
        sizes = {key: int(np.prod(shape, dtype=np.int64)) for key, shape in shapes.items()}
        trainable = bool(layer_config.get("trainable", True))
        width = int(layer_config.get("units", width))  # only Dense changes the width
        rows.append(
            {
                "name": name,
                "class_name": spec["class_name"],
                "output_dim": width,
                "weights": shapes,
                "params": sum(sizes.values()),
                "trainable_params": sum(v for k, v in sizes.items() if trainable and k not in NON_TRAINABLE),
                "config": layer_config,
            }
        )
    return rows


def _datasets(weights: h5py.Group, name: str) -> dict[str, h5py.Dataset]:
    """A layer's datasets; weightless layers may have no group in hand-made files."""
    return layer_datasets(weights, name) if name in weights else {}
