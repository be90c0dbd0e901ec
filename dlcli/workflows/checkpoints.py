"""Starting a run from a file: resuming a checkpoint exactly, or warm-starting from a model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.config import Config, load_config, rebased
from dlcli.data.schema import Schema
from dlcli.errors import ModelFileError, UsageError, setting

# What --resume may change: how long to go on, and where things are kept, not what is learned.
RESUMABLE = (
    "train.epochs",
    "train.patience",
    "train.kernels",
    "train.keep_checkpoints",
    "data.memory_limit",
    "remote.",
)
# Checkpoints since this marker store their local paths relative to the run directory.
RUN_RELATIVE = "run-relative"


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


def resumed_config(checkpoint: Any, changes: Mapping[str, Any], run_dir: Path, resume: Path) -> Config:
    """The checkpoint's configuration, with the ``changes`` given alongside ``--resume``.

    A resumed run continues exactly, so only :data:`RESUMABLE` settings may change; any other
    is refused by name rather than ignored. ``train.epochs`` may grow past the checkpoint's
    epoch count (Keras's ``initial_epoch``): the run trains on to the new total.
    """
    refused = [key for key in changes if not key.startswith(RESUMABLE)]
    if refused:
        raise UsageError(
            f"{', '.join(setting(k) for k in refused)} cannot change on --resume: a resumed run continues "
            "exactly as it was configured.",
            hint=f"Resume without it (only {_resumable()} may change), or start a new run from the "
            f"checkpoint's weights with {setting('init_from', str(resume))}.",
        )
    metadata = checkpoint.metadata
    stored = flatten_config(metadata["config"])
    if metadata.get("paths") == RUN_RELATIVE:
        stored = rebased(stored, run_dir)
    cfg = load_config(None, {**stored, **changes}, environ={})
    done = int(metadata.get("epochs_run", 0))
    if "train.epochs" in changes and cfg.train.epochs <= done:
        raise UsageError(
            f"{setting('train.epochs', str(cfg.train.epochs))} is not more than the {done} epochs "
            f"{resume} has already trained.",
            hint=f"Give the new total, e.g. {setting('train.epochs', str(done + 10))}.",
        )
    return cfg


def _resumable() -> str:
    """:data:`RESUMABLE` as a user reads it: flags, and a section prefix as its settings."""
    names = [f"the {key.rstrip('.')} settings" if key.endswith(".") else setting(key) for key in RESUMABLE]
    return ", ".join(names[:-1]) + " and " + names[-1]


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
