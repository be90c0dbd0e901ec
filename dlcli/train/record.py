"""The per-epoch progress record the training loop yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EpochRecord:
    """One epoch's results; the loop yields one and never prints.

    Attributes
    ----------
    epoch : int
        1-based epoch number (counting epochs of earlier, resumed sessions).
    loss : float
        Mean training loss over the epoch's mini-batches (weighted by batch size), in the
        model loss convention (mse is 1/(2n) Σ r²).
    metrics : dict[str, float]
        Training-set metrics computed in inference mode at the end of the epoch
        (empty when the trainer's ``train_metrics`` is off).
    val_loss : float or None
        Validation loss in inference mode, ``None`` without validation data.
    val_metrics : dict[str, float]
        Validation metrics (same names as ``metrics``), empty without validation data.
    lr : float
        Learning rate of the epoch's last optimizer step.
    seconds : float
        Wall time of the epoch, evaluation included.
    samples_per_second : float
        Training throughput of the epoch's mini-batch steps.
    improved : bool
        The monitored value improved (always ``True`` without early stopping: the latest
        weights are then the ones to keep).
    stop : bool
        This is the last epoch because early stopping triggered.
    """

    epoch: int
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    val_loss: float | None = None
    val_metrics: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    seconds: float = 0.0
    samples_per_second: float = 0.0
    improved: bool = False
    stop: bool = False

    def values(self) -> dict[str, float | None]:
        """Flat monitorable values: ``loss``, metric names, ``val_loss``, ``val_`` + metric names."""
        flat: dict[str, float | None] = {"loss": self.loss, **self.metrics}
        if self.val_loss is not None:
            flat["val_loss"] = self.val_loss
            flat.update({f"val_{k}": v for k, v in self.val_metrics.items()})
        return flat

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-able history row (the same keys run.py writes to history.jsonl)."""
        return {
            "epoch": self.epoch,
            "loss": self.loss,
            **self.metrics,
            "val_loss": self.val_loss,
            **{f"val_{k}": v for k, v in self.val_metrics.items()},
            "lr": self.lr,
            "seconds": self.seconds,
            "samples_per_second": self.samples_per_second,
        }
