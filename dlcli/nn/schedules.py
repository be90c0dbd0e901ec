"""Learning-rate schedules: ``lr(epoch, step)``, ``on_epoch_end(metric)``, state dicts.

``epoch`` is 0-based; ``step`` is the global optimizer step (0-based). The epoch-based
schedules ignore ``step``; it is there so a per-step schedule fits the same interface.
"""

from __future__ import annotations

import math
from typing import Any

from dlcli.errors import ConfigError

from .registry import Registry


def _positive(name: str, value: float) -> float:
    if float(value) <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}.")
    return float(value)


SCHEDULES: Registry[type[Schedule]] = Registry("schedule")


class Schedule:
    """Base schedule: a constant learning rate ``lr``."""

    name = "constant"

    def __init__(self, lr: float = 0.001) -> None:
        self.base_lr = _positive("lr", lr)

    def lr(self, epoch: int, step: int = 0) -> float:
        """Learning rate for ``epoch`` (0-based) at global ``step``."""
        return self.base_lr

    def on_epoch_end(self, metric: float | None) -> None:
        """Feed the monitored metric after each epoch (only reduce_on_plateau uses it)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state; stateless schedules return only their name."""
        return {"name": self.name}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` output."""
        if d.get("name") != self.name:
            raise ConfigError(f"Schedule state is for '{d.get('name')}', not '{self.name}'.")


@SCHEDULES.register()
class Constant(Schedule):
    """``lr(e) = lr``."""


@SCHEDULES.register()
class Step(Schedule):
    """``lr(e) = lr * gamma ** floor(e / step_size)``."""

    name = "step"

    def __init__(self, lr: float = 0.001, step_size: int = 10, gamma: float = 0.1) -> None:
        super().__init__(lr)
        self.step_size = int(_positive("step_size", step_size))
        self.gamma = _positive("gamma", gamma)

    def lr(self, epoch: int, step: int = 0) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


@SCHEDULES.register()
class Exponential(Schedule):
    """``lr(e) = lr * decay_rate ** e``."""

    name = "exponential"

    def __init__(self, lr: float = 0.001, decay_rate: float = 0.96) -> None:
        super().__init__(lr)
        self.decay_rate = _positive("decay_rate", decay_rate)

    def lr(self, epoch: int, step: int = 0) -> float:
        return self.base_lr * self.decay_rate**epoch


@SCHEDULES.register()
class Cosine(Schedule):
    """Linear warm-up then cosine decay to ``min_lr`` over ``epochs`` in total.

    ``lr(e) = lr * (e + 1) / warmup_epochs`` for ``e < warmup_epochs``; then with
    ``p = (e - warmup_epochs) / max(1, epochs - warmup_epochs)`` (capped at 1),
    ``lr(e) = min_lr + (lr - min_lr) * (1 + cos(pi p)) / 2``.
    """

    name = "cosine"

    def __init__(self, lr: float = 0.001, epochs: int = 100, warmup_epochs: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(lr)
        self.epochs = int(_positive("epochs", epochs))
        if not 0 <= int(warmup_epochs) < self.epochs:
            raise ConfigError(f"warmup_epochs must be in [0, {self.epochs}), got {warmup_epochs}.")
        self.warmup_epochs = int(warmup_epochs)
        if not 0 <= float(min_lr) <= self.base_lr:
            raise ConfigError(f"min_lr must be in [0, lr={self.base_lr}], got {min_lr}.")
        self.min_lr = float(min_lr)

    def lr(self, epoch: int, step: int = 0) -> float:
        if epoch < self.warmup_epochs:
            return self.base_lr * (epoch + 1) / self.warmup_epochs
        span = max(1, self.epochs - self.warmup_epochs)
        progress = min(1.0, (epoch - self.warmup_epochs) / span)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


@SCHEDULES.register()
class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` after ``patience`` epochs without improvement.

    Improvement means ``metric < best - min_delta`` (mode ``min``) or
    ``metric > best + min_delta`` (mode ``max``). After a reduction, ``cooldown`` epochs
    pass before waiting starts again; the rate never goes below ``min_lr``.
    """

    name = "reduce_on_plateau"

    def __init__(
        self,
        lr: float = 0.001,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "min",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(lr)
        if not 0 < float(factor) < 1:
            raise ConfigError(f"factor must be in (0, 1), got {factor}.")
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min' or 'max', got '{mode}'.")
        self.factor, self.patience, self.min_delta = float(factor), int(patience), float(min_delta)
        self.mode, self.cooldown, self.min_lr = mode, int(cooldown), float(min_lr)
        self.current = self.base_lr
        self.best: float | None = None
        self.wait = 0
        self.cooldown_left = 0

    def lr(self, epoch: int, step: int = 0) -> float:
        return self.current

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def on_epoch_end(self, metric: float | None) -> None:
        if metric is None or math.isnan(metric):
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(metric):
            self.best, self.wait = float(metric), 0
            return
        self.wait += 1
        if self.wait >= self.patience and self.cooldown_left == 0:
            self.current = max(self.min_lr, self.current * self.factor)
            self.wait, self.cooldown_left = 0, self.cooldown

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": self.current,
            "best": self.best,
            "wait": self.wait,
            "cooldown_left": self.cooldown_left,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        self.current, self.wait = float(d["current"]), int(d["wait"])
        self.best = None if d["best"] is None else float(d["best"])
        self.cooldown_left = int(d["cooldown_left"])


def get_schedule(name: str, **kwargs: Any) -> Schedule:
    """Instantiate a schedule by name; ``lr`` is the base learning rate.

    Raises
    ------
    ConfigError
        For an unknown name or argument; the message lists the valid ones.
    """
    schedule: Schedule = SCHEDULES.get(name, **kwargs)
    return schedule
