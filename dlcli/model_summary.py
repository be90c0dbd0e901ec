"""What a model file holds, as plain data for ``dlcli inspect`` (table or JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def summarize(path: str | Path) -> dict[str, Any]:
    """Layers, shapes, parameter counts, preprocessing, provenance and metrics of a model file."""
    from dlcli.model_io import load_model

    loaded = load_model(path)
    model = loaded.model
    metadata = dict(loaded.metadata or {})
    layers = [_layer_summary(layer) for layer in model.layers]
    provenance = {k: metadata[k] for k in ("data", "data_sha256", "seed", "epochs_run", "best_epoch", "loss")
                  if k in metadata}
    return {
        "path": str(path),
        "kind": metadata.get("kind", "model"),
        "format": getattr(loaded, "format_name", "dlcli-model"),
        "format_version": getattr(loaded, "format_version", None),
        "dlcli_version": metadata.get("dlcli_version", getattr(loaded, "dlcli_version", None)),
        "created": metadata.get("created", getattr(loaded, "created", None)),
        "input_dim": model.input_dim,
        "dtype": str(np.dtype(model.dtype)),
        "loss": metadata.get("loss"),
        "layers": layers,
        "trainable_params": sum(layer["trainable_params"] for layer in layers),
        "total_params": sum(layer["params"] for layer in layers),
        "preprocessing": loaded.schema,
        "provenance": provenance,
        "metrics": metadata.get("metrics", {}),
        "config": metadata.get("config"),
        "has_training_state": bool(loaded.training_state),
    }


def _layer_summary(layer: Any) -> dict[str, Any]:
    weights = layer.get_weights()
    trainable = sum(int(np.size(v)) for v in layer.params.values())
    config = layer.get_config()
    details = ", ".join(f"{k}={config[k]}" for k in ("units", "activation", "rate", "momentum") if k in config)
    return {
        "name": layer.name,
        "type": type(layer).__name__,
        "output_shape": [None, int(layer.output_dim)],
        "weights": {name: list(np.shape(value)) for name, value in weights},
        "params": sum(int(np.size(v)) for name, v in weights if name != "count"),
        "trainable_params": trainable,
        "details": details,
    }
