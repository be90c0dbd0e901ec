"""Inference-mode passes over a batch source: the mean loss and the task's metrics per epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcli.data.batches import BatchSource
from dlcli.nn.metrics import ClassificationStream, RegressionStream
from dlcli.nn.tasks import TASKS

from .distributed import Group, combine_sums

EVAL_ROWS = 4096  # rows per inference pass (the model's own predict batch)


def mean_loss(model: Any, source: BatchSource, group: Group | None = None) -> float:
    """The loss over every row of ``source`` in inference mode (mean over rows, as in training).

    With a ``group``, ``source`` is this rank's shard and the sums are added over ranks.
    """
    total, rows = 0.0, 0
    for X, y in source.chunks(EVAL_ROWS):
        total += float(model.evaluate_loss(X, y)) * len(X)
        rows += len(X)
    summed, count = combine_sums(group, (total, rows))
    return summed / count


def epoch_metrics(
    model: Any,
    source: BatchSource,
    task: str,
    unscale: Callable[[np.ndarray], np.ndarray] | None = None,
    group: Group | None = None,
) -> dict[str, float]:
    """The task's per-epoch metrics (floats only, no confusion matrix) on ``source``.

    ``unscale`` maps regression targets and outputs ``(n, k)`` back to the user's units first.
    With a ``group``, ``source`` is this rank's shard and the accumulators are merged over ranks.
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
        scores: dict[str, float] = merged(group, regression).result()
        return scores
    classes = ClassificationStream(2 if task == "binary" else model.output_dim)
    for X, y in source.chunks(EVAL_ROWS):
        outputs = model.predict(X)
        classes.update(np.asarray(y), outputs.reshape(-1) if task == "binary" else outputs)
    found = merged(group, classes).result()
    return {k: float(found[k]) for k in TASKS[task].metrics}


def merged(group: Group | None, stream: Any) -> Any:
    """``stream`` merged with every rank's, in rank order (the same result on every rank)."""
    if group is None or group.size == 1:
        return stream
    parts = group.allgather(stream)
    whole = parts[0]
    for part in parts[1:]:
        whole.merge(part)
    return whole


def monitorable(task: str, train_metrics: bool, has_validation: bool) -> list[str]:
    """The values an epoch record carries: ``loss``, the task's metrics (unless
    ``train_metrics`` is off), and with validation rows ``val_loss`` and ``val_`` of each metric
    (scored whether or not the training rows are)."""
    metrics = TASKS[task].metrics
    names = ["loss", *(metrics if train_metrics else ())]
    return names + ([f"val_{n}" for n in ("loss", *metrics)] if has_validation else [])
