"""Inference-mode passes over a batch source: the mean loss and the task's metrics per epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcli.data.batches import BatchSource
from dlcli.nn.metrics import classification_metrics, regression_metrics
from dlcli.nn.tasks import TASKS

EVAL_ROWS = 4096  # rows per inference pass (the model's own predict batch)


def mean_loss(model: Any, source: BatchSource) -> float:
    """The loss over every row of ``source`` in inference mode (mean over rows, as in training)."""
    total, rows = 0.0, 0
    for X, y in source.chunks(EVAL_ROWS):
        total += float(model.evaluate_loss(X, y)) * len(X)
        rows += len(X)
    return total / rows


def epoch_metrics(
    model: Any, source: BatchSource, task: str, unscale: Callable[[np.ndarray], np.ndarray] | None = None
) -> dict[str, float]:
    """The task's per-epoch metrics (floats only, no confusion matrix) on ``source``.

    ``unscale`` maps regression targets and outputs ``(n, k)`` back to the user's units first.
    """
    parts = [(model.predict(X), np.asarray(y)) for X, y in source.chunks(EVAL_ROWS)]
    outputs = np.concatenate([o for o, _ in parts])
    targets = np.concatenate([t for _, t in parts])
    if task == "regression":
        targets = targets.reshape(outputs.shape)
        if unscale is not None:
            targets, outputs = unscale(targets), unscale(outputs)
        return regression_metrics(targets, outputs)
    if task == "binary":
        found = classification_metrics(targets, outputs.reshape(-1), 2)
    else:
        found = classification_metrics(targets, outputs, model.output_dim)
    return {k: float(found[k]) for k in TASKS[task].metrics}


def monitorable(task: str, train_metrics: bool, has_validation: bool) -> list[str]:
    """The values an epoch record carries: ``loss``, the task's metrics, and ``val_`` of each."""
    names = ["loss", *(TASKS[task].metrics if train_metrics else ())]
    return names + [f"val_{n}" for n in names] if has_validation else names
