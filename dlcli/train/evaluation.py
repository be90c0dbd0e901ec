"""Inference-mode passes over a batch source: the mean loss and the task's metrics per epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcli.data.batches import BatchSource
from dlcli.nn.metrics import ClassificationStream, RegressionStream
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
    # Accumulated chunk by chunk: no array of every row's outputs, whatever the data size.
    if task == "regression":
        regression = RegressionStream()
        for X, y in source.chunks(EVAL_ROWS):
            outputs = model.predict(X)
            targets = np.asarray(y).reshape(outputs.shape)
            if unscale is not None:
                targets, outputs = unscale(targets), unscale(outputs)
            regression.update(targets, outputs)
        return regression.result()
    classes = ClassificationStream(2 if task == "binary" else model.output_dim)
    for X, y in source.chunks(EVAL_ROWS):
        outputs = model.predict(X)
        classes.update(np.asarray(y), outputs.reshape(-1) if task == "binary" else outputs)
    found = classes.result()
    return {k: float(found[k]) for k in TASKS[task].metrics}


def monitorable(task: str, train_metrics: bool, has_validation: bool) -> list[str]:
    """The values an epoch record carries: ``loss``, the task's metrics, and ``val_`` of each."""
    names = ["loss", *(TASKS[task].metrics if train_metrics else ())]
    return names + [f"val_{n}" for n in names] if has_validation else names
