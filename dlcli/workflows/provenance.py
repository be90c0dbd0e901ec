"""What a trained model.h5 is, and which model its stored metrics measure, in words.

A run trains twice by default: the *selection run* trains on the training rows, early
stopping picks the best epoch count E, and its model is scored on the validation rows it
never saw (the metrics); then the *refit* retrains on all rows for E epochs, and that model
is the one saved. The metrics therefore belong to the selection run, not to the saved model,
which has no held-out rows left to be scored on. ``train`` and ``inspect`` say so.
"""

from __future__ import annotations

from typing import Any


def model_origin(metadata: Any) -> tuple[str, str] | None:
    """``(what the model is, what its metrics measure)`` for a model's metadata; ``None`` for a
    file that does not say (a checkpoint, a Keras-written file, metadata of other shapes)."""
    if not isinstance(metadata, dict) or metadata.get("kind") != "model" or "epochs_run" not in metadata:
        return None
    try:
        return _origin(metadata)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None  # written by hand or by another tool: say nothing rather than guess


def _origin(metadata: dict[str, Any]) -> tuple[str, str]:
    ran, best = int(metadata["epochs_run"]), int(metadata.get("best_epoch") or metadata["epochs_run"])
    train = (metadata.get("config") or {}).get("train") or {}
    refit = metadata.get("refit") or {}
    val_rows = metadata.get("validation_rows")
    held_out = f"the {val_rows} validation rows" if val_rows else "the validation rows"
    selected = f"best epoch {best} of {ran}" if train.get("restore_best", True) else f"its last epoch, {ran}"
    if not metadata.get("metrics"):
        return f"trained on all rows for {ran} epochs (no validation split)", "no validation metrics"
    metrics = f"the selection run's model ({selected}) on {held_out}, which it never trained on"
    if refit.get("used"):
        model = (
            f"refit on all {refit['rows']} rows (training + validation) for {refit['epochs']} epochs, the "
            "selection run's best epoch count"
        )
        return model, metrics + "; the refit model has no held-out rows to score"
    if refit:  # the refit diverged: the selection run's model was kept
        return f"the selection run's model ({selected}); the refit was dropped: {refit.get('reason', '')}", metrics
    return f"the selection run's model ({selected}), trained on the training rows only", metrics
