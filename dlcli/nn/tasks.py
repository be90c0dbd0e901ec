"""The task table: what a binary, multi-class or regression model is made of and judged by.

One row per task — output activation, default loss, the metrics reported each epoch — and one
set of metrics that improve upwards. Model building, the trainer's metrics, early stopping,
config choices (``data.task``, ``train.monitor``) and ``init`` all read it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlcli.errors import ConfigError

CLASSIFICATION_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss")
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")
# Metrics that improve upwards; losses and errors improve downwards.
MAXIMIZED = frozenset({"accuracy", "precision_macro", "recall_macro", "f1_macro", "r2"})


@dataclass(frozen=True)
class Task:
    """One kind of supervised problem.

    Attributes
    ----------
    name : str
        ``binary``, ``multiclass`` or ``regression``.
    output_activation : str
        Activation of the last Dense layer (a registered activation name).
    loss : str
        The loss ``model.loss = "auto"`` picks (a registered loss name).
    metrics : tuple of str
        Names the trainer reports per epoch (training and ``val_`` prefixed).
    classification : bool
        Targets are class labels.
    """

    name: str
    output_activation: str
    loss: str
    metrics: tuple[str, ...]
    classification: bool


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("binary", "sigmoid", "binary_crossentropy", CLASSIFICATION_METRICS, classification=True),
        Task("multiclass", "softmax", "categorical_crossentropy", CLASSIFICATION_METRICS, classification=True),
        Task("regression", "linear", "mse", REGRESSION_METRICS, classification=False),
    )
}


def get_task(name: str) -> Task:
    """The row for ``name``; unknown names list the valid ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"Unknown task '{name}'. Expected one of: {', '.join(TASKS)}.") from None


def metric_names() -> tuple[str, ...]:
    """Every metric some task reports, in table order, without repeats."""
    return tuple(dict.fromkeys(m for task in TASKS.values() for m in task.metrics))


def monitors() -> tuple[str, ...]:
    """Values early stopping can watch: the losses, then ``val_`` + each metric."""
    return ("val_loss", "loss", *(f"val_{m}" for m in metric_names()))


def monitor_mode(monitor: str) -> str:
    """``"max"`` for a metric that improves upwards (with or without ``val_``), else ``"min"``."""
    name = monitor.removeprefix("val_")
    return "max" if name in MAXIMIZED else "min"
