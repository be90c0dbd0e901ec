"""Small models and data sets for the training-loop tests (fast: a few ms per epoch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dlcli.data.batches import ArrayBatchSource
from dlcli.nn import BatchNormalization, Dense, Dropout, Sequential, get_optimizer, get_schedule
from dlcli.train.loop import EarlyStopping, Trainer


def sources(X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> tuple[ArrayBatchSource, ArrayBatchSource | None]:
    """The trainer's (training, validation) batch sources for in-memory arrays."""
    return ArrayBatchSource(X, y), None if X_val is None else ArrayBatchSource(X_val, y_val)


def blobs(seed: int = 0, n_per_class: int = 30, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs ``(n, 2)`` with integer labels, well but not perfectly separated."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(n_classes, 2))
    X = np.concatenate([rng.normal(c, 1.0, size=(n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


def classifier(seed: int, n_classes: int = 3) -> Sequential:
    """Dense → BatchNorm → Dropout → softmax: every kind of training-time state."""
    layers = [Dense(16, activation="relu"), BatchNormalization(), Dropout(0.2), Dense(n_classes, activation="softmax")]
    return Sequential(layers, 2, loss="categorical_crossentropy").build(np.random.default_rng(seed))


def make_trainer(
    model: Sequential, seed: int, *, epochs: int = 6, schedule: str = "cosine", patience: int = 100, **kwargs: Any
) -> Trainer:
    sched = (
        get_schedule("cosine", lr=0.05, epochs=epochs, warmup_epochs=2)
        if schedule == "cosine"
        else get_schedule(schedule, lr=0.05)
    )
    stopping = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    return Trainer(
        model,
        get_optimizer("adam"),
        sched,
        epochs=epochs,
        batch_size=16,
        rng=np.random.default_rng(seed),
        task="multiclass",
        early_stopping=stopping,
        **kwargs,
    )


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = blobs(0)
    Xv, yv = blobs(0, n_per_class=10)
    return X, y, Xv, yv
