"""Starting a run from a file: resuming a checkpoint exactly, or warm-starting from a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.schema import Schema
from dlcli.errors import ModelFileError, setting


def load_checkpoint(path: Path) -> Any:
    """The checkpoint at ``path`` (a :class:`~dlcli.model_io.LoadedModel` with training state)."""
    from dlcli.model_io import load_model

    loaded = load_model(path)
    if not loaded.training_state or (loaded.metadata or {}).get("kind") != "checkpoint":
        raise ModelFileError(
            f"'{path}' is a model, not a checkpoint: it has no training state to resume.",
            hint=f"Resume from a file in the run's checkpoints/ directory, or use {setting('init_from')} "
            "to warm-start from a model.",
        )
    return loaded


def warm_start(model: Any, path: Path, schema: Schema) -> None:
    """Initialise from another model's weights (then train afresh: no optimizer or loop state)."""
    from dlcli.model_io import load_weights_into

    load_weights_into(model, path)
    if schema.target_scaled:
        # Saved models predict original units; this run trains on standardised targets.
        last = model.layers[-1]
        last.params["kernel"] /= schema.target_std
        last.params["bias"] -= schema.target_mean
        last.params["bias"] /= schema.target_std


def weights_by_layer(model: Any) -> dict[str, dict[str, np.ndarray]]:
    return {layer.name: dict(layer.get_weights()) for layer in model.layers}


def flatten_config(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"train": {"epochs": 5}}`` → ``{"train.epochs": 5}`` (a checkpoint's config as overrides)."""
    return {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
