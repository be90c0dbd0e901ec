"""What a checkpoint's training state must hold, checked when the file is loaded.

The state store (:mod:`.state_tree`) keeps any state dict without knowing its keys, and the
trainer checks every key it reads when it resumes. What can be checked here, against the
model stored beside the state, is checked here, so a damaged checkpoint fails when it is
opened rather than steps into training: the position and the optimizer state are present
and typed, and the arrays that must match the model's parameters do.

The trainer's layout (``dlcli.train.state``, which this package cannot import: the
packages only import downwards) is recognised by its ``format`` key; checkpoints written
before it (the v1 fixture) only need the position and the optimizer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .format import LayoutError

HINT = "The checkpoint is damaged or was not written by dlcli; resume from another checkpoint of the run."
# Integer positions the trainer's layout always has (others may come and go).
_POSITIONS = ("epoch", "batch", "step")


def check_training_state(state: Any, model: Any) -> None:
    """Refuse a checkpoint state that the trainer could not continue from.

    Parameters
    ----------
    state : object
        The decoded training state.
    model : dlcli.nn.Sequential
        The built model of the same file (its parameters size the optimizer state).

    Raises
    ------
    LayoutError
        ``its training state lacks 'optimizer'`` and the like.
    """
    if not isinstance(state, dict):
        raise _bad(f"is {type(state).__name__}, expected a table of named values")
    trainer_layout = "format" in state
    for key in _POSITIONS if trainer_layout else ("epoch",):
        _count(state, key)
    optimizer = state.get("optimizer")
    if "optimizer" not in state:
        raise _bad("lacks 'optimizer'")
    if not isinstance(optimizer, dict):
        raise _bad(f"has optimizer = {_kind(optimizer)}, expected a table of its state")
    if not trainer_layout:
        return
    _check_format(state["format"])
    if not isinstance(optimizer.get("name"), str):
        raise _bad("has no optimizer name")
    _count(optimizer, "iterations", "optimizer ")
    trainable = sum(int(p.size) for p in model.parameters())
    for slot, value in optimizer.items():
        if isinstance(value, np.ndarray):
            _check_slot(slot, value, trainable)
    stopping = state.get("early_stopping")
    if isinstance(stopping, dict) and stopping.get("best_weights") is not None:
        _check_best_weights(stopping["best_weights"], model)


def _check_format(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(f"has format = {value!r}, expected an integer")


def _count(table: dict[str, Any], key: str, prefix: str = "") -> None:
    if key not in table:
        raise _bad(f"lacks '{prefix}{key}'")
    value = table[key]
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"has {prefix}{key} = {_kind(value)}, expected an integer >= 0")


def _check_slot(slot: str, value: np.ndarray, trainable: int) -> None:
    """An optimizer slot is one flat float array covering every trainable parameter."""
    if value.dtype.kind != "f":
        raise _bad(f"has optimizer slot '{slot}' of dtype {value.dtype}, expected floating point")
    if value.shape != (trainable,):
        raise _bad(
            f"has optimizer slot '{slot}' of shape {value.shape}, expected ({trainable},): "
            "one value per trainable parameter of the model"
        )


def _check_best_weights(weights: Any, model: Any) -> None:
    """Early stopping's best weights are copies of every model weight, in order."""
    expected = [w.shape for w in model.copy_weights()]
    if not isinstance(weights, list) or len(weights) != len(expected):
        count = len(weights) if isinstance(weights, list) else _kind(weights)
        raise _bad(f"has {count} early-stopping best weights, expected {len(expected)} arrays")
    for i, (weight, shape) in enumerate(zip(weights, expected, strict=True)):
        if not isinstance(weight, np.ndarray) or weight.shape != shape or weight.dtype.kind not in "biuf":
            found = weight.shape if isinstance(weight, np.ndarray) else _kind(weight)
            raise _bad(f"has early-stopping best weight {i} of shape {found}, expected a number array of shape {shape}")


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    shown = repr(value)
    return shown if len(shown) <= 40 else f"a {type(value).__name__}"


def _bad(what: str) -> LayoutError:
    return LayoutError(f"its training state {what}", hint=HINT)
