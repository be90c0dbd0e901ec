"""Early stopping: track the best value of a monitored quantity, stop after ``patience``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlcli.errors import ConfigError
from dlcli.nn.tasks import monitor_mode


def resolve_mode(monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``; ``"auto"`` picks ``max`` for accuracy/F1/precision/recall/R²."""
    if mode not in ("min", "max", "auto"):
        raise ConfigError(f"Early-stopping mode must be 'min', 'max' or 'auto', got '{mode}'.")
    if mode != "auto":
        return mode
    return monitor_mode(monitor)


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch's flat values: ``loss``, ``val_loss``, a metric name
        (``accuracy``, ``r2``, ...) or ``val_`` + a metric name.
    mode : {"auto", "min", "max"}
    patience : int
        Epochs without improvement tolerated; stopping happens on the ``patience``-th
        (Keras semantics: 0 stops at the first epoch that does not improve).
    min_delta : float
        Smallest change that counts as an improvement.
    restore_best_weights : bool
        Keep a copy of the weights of the best epoch; the trainer copies them back into the
        model when training ends (stopped early or not).

    Attributes
    ----------
    best : float or None
    best_epoch : int
        1-based epoch of ``best`` (0 before the first epoch).
    wait : int
        Epochs since the last improvement.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ) -> None:
        if int(patience) < 0:
            raise ConfigError(f"patience must be >= 0, got {patience}.")
        if float(min_delta) < 0:
            raise ConfigError(f"min_delta must be >= 0, got {min_delta}.")
        self.monitor = str(monitor)
        self.mode = resolve_mode(self.monitor, mode)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best_weights = bool(restore_best_weights)
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def is_improvement(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta`` (NaN never does)."""
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int, model: Any) -> tuple[bool, bool]:
        """Record the epoch's monitored ``value``; returns ``(improved, stop)``.

        ``model`` is only used to copy the weights when they are the new best.
        """
        improved = self.is_improvement(float(value))
        if improved:
            self.best, self.best_epoch, self.wait = float(value), int(epoch), 0
            if self.restore_best_weights:
                self.best_weights = model.copy_weights()
        else:
            self.wait += 1
        stop = not improved and self.wait >= self.patience
        if stop:
            self.stopped_epoch = int(epoch)
        return improved, stop

    def restore(self, model: Any) -> bool:
        """Copy the best weights back into ``model``; returns whether anything was restored."""
        if not self.restore_best_weights or self.best_weights is None:
            return False
        model.restore_weights(self.best_weights)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Everything resume needs, best weights included (arrays are not copied: the
        tracker replaces, never mutates, them)."""
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "restore_best_weights": self.restore_best_weights,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": None if self.best_weights is None else list(self.best_weights),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore the progress from :meth:`state_dict`; the settings stay as constructed
        (a resumed run may change patience), except that the monitor must match."""
        if d.get("monitor") != self.monitor:
            raise ConfigError(
                f"Early-stopping state monitors '{d.get('monitor')}', but this run monitors '{self.monitor}'."
            )
        self.best = None if d.get("best") is None else float(d["best"])
        self.best_epoch, self.wait = int(d["best_epoch"]), int(d["wait"])
        self.stopped_epoch = int(d.get("stopped_epoch", 0))
        weights = d.get("best_weights")
        self.best_weights = None if weights is None else [np.array(w) for w in weights]
