"""From a resolved config and a fitted schema to model, optimizer, schedule and trainer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlcli.config import Config, auto_patience
from dlcli.data.schema import Schema
from dlcli.nn.tasks import TASKS, monitor_mode


def output_loss(cfg: Config, schema: Schema) -> str:
    return TASKS[schema.task].loss if cfg.model.loss == "auto" else cfg.model.loss


def build_model(
    cfg: Config, schema: Schema, moments: tuple[np.ndarray, np.ndarray, int], rng: np.random.Generator
) -> Any:
    """Normalization (the training rows' ``moments``: mean, variance, count) → hidden blocks → output."""
    from dlcli.nn.layers import Dense, Dropout
    from dlcli.nn.model import Sequential
    from dlcli.nn.normalization import BatchNormalization, Normalization

    normalization = Normalization()
    layers: list[Any] = [normalization]
    for width in cfg.model.hidden:
        if cfg.model.batch_norm:
            layers += [Dense(width), BatchNormalization(), _activation(cfg.model.activation)]
        else:
            layers.append(Dense(width, activation=cfg.model.activation))
        if cfg.model.dropout > 0:
            layers.append(Dropout(cfg.model.dropout))
    layers.append(Dense(schema.n_outputs, activation=TASKS[schema.task].output_activation))
    model = Sequential(layers, input_dim=schema.n_inputs, loss=output_loss(cfg, schema), dtype=cfg.model.dtype)
    model.build(rng)
    normalization.set_moments(*moments)
    unit_scale_for_constant_features(normalization.state)
    return model


def unit_scale_for_constant_features(state: dict[str, np.ndarray]) -> None:
    """Give features constant on the training rows a variance of 1 (as scikit-learn's StandardScaler).

    Keras' floor of 1e-7 on the std would turn any other value seen later (a pixel that is
    always blank in training, a rare flag) into an input of ~1e7 and wreck the predictions;
    with unit scale it stays an ordinary input. Keras reads the stored variance, so both
    still predict the same.
    """
    mean, variance = state["mean"], state["variance"]
    constant = variance <= 1e-12 * np.maximum(1.0, mean.astype(np.float64) ** 2)
    variance[constant] = 1.0


def _activation(name: str) -> Any:
    from dlcli.nn.layers import Activation

    return Activation(name)


def build_optimizer(cfg: Config) -> Any:
    from dlcli.nn.optimizers import get_optimizer

    return get_optimizer(cfg.train.optimizer, weight_decay=cfg.train.weight_decay)


def build_schedule(cfg: Config, train_rows: int) -> Any:
    """The learning-rate schedule; ``train_rows`` sets an automatic patience (plateau)."""
    from dlcli.nn.schedules import get_schedule

    t = cfg.train
    stopping = auto_patience(t.patience, train_rows)
    # Each schedule's own parameters, from the keys of the same name in [train].
    by_schedule: dict[str, dict[str, Any]] = {
        "step": {"step_size": t.step_size or max(1, t.epochs // 4), "gamma": t.decay_factor},
        "exponential": {"decay_rate": t.decay_rate},
        "cosine": {"epochs": t.epochs, "warmup_epochs": t.warmup_epochs, "min_lr": t.min_lr},
        # By default half the early-stopping patience, so the rate drops before training gives up.
        "reduce_on_plateau": {
            "factor": t.decay_factor,
            "patience": t.plateau_patience or (max(1, stopping // 2) if stopping else 10),
            "min_lr": t.min_lr,
        },
    }
    return get_schedule(t.schedule, lr=t.lr, **by_schedule.get(t.schedule, {}))


def monitor_for(cfg: Config, has_validation: bool) -> tuple[str, str]:
    monitor = cfg.train.monitor
    if not has_validation and monitor.startswith("val_"):
        monitor = "loss"  # no validation rows: fall back to the training loss
    return monitor, monitor_mode(monitor)


def build_trainer(
    cfg: Config,
    model: Any,
    optimizer: Any,
    schedule: Any,
    rng: np.random.Generator,
    schema: Schema,
    has_validation: bool = True,
    epochs: int | None = None,
    group: Any = None,
    train_rows: int = 0,
    train_metrics: bool = True,
) -> Any:
    """The trainer; ``epochs`` overrides the config (the refit runs a fixed number, no stopping);
    ``train_rows`` sets an automatic patience; ``train_metrics=False`` skips the pass over the
    training rows that scores them each epoch (a tuning trial only needs its own metric)."""
    from dlcli.nn.kernels import resolve
    from dlcli.train import EarlyStopping, Trainer

    t = cfg.train
    early = None
    if epochs is None:
        monitor, mode = monitor_for(cfg, has_validation)
        # Patience 0 turns stopping off, but the best epoch is still tracked for restore-best.
        early = EarlyStopping(
            monitor=monitor,
            mode=mode,
            patience=auto_patience(t.patience, train_rows) or t.epochs + 1,
            min_delta=t.min_delta,
            restore_best_weights=t.restore_best,
        )
    return Trainer(
        model,
        optimizer,
        schedule,
        epochs=epochs or t.epochs,
        batch_size=t.batch_size,
        rng=rng,
        task=schema.task,
        early_stopping=early,
        clip_norm=t.clip_norm or None,
        unscale=schema.unscale if schema.target_scaled else None,
        group=group,
        mask_seed=t.seed,
        kernels=resolve(t.kernels, sum(p.size for p in model.parameters())),
        train_metrics=train_metrics,
    )


@contextmanager
def folded_target_scaling(model: Any, schema: Schema) -> Iterator[Schema]:
    """Temporarily fold regression target scaling into the output layer.

    The network trains on standardised targets; a saved model should predict original units
    by itself (for Keras too), so ``W·std`` and ``b·std + mean`` go into the last Dense while
    the file is written, and the schema says the outputs need no unscaling.
    """
    if not schema.target_scaled:
        yield schema
        return
    last = model.layers[-1]
    kernel, bias = last.params["kernel"], last.params["bias"]
    saved = kernel.copy(), bias.copy()
    kernel *= schema.target_std
    bias *= schema.target_std
    bias += schema.target_mean
    try:
        yield Schema(**{**schema.__dict__, "target_scaled": False})
    finally:
        np.copyto(kernel, saved[0])
        np.copyto(bias, saved[1])
