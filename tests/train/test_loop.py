"""The Trainer: record shape, learning, non-finite loss, the gradient seam, clipping."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from dlcli.errors import ConfigError, NonFiniteLossError
from dlcli.nn import Dense, Sequential, get_optimizer, get_schedule
from dlcli.train import history
from dlcli.train.loop import EarlyStopping, EpochRecord, Trainer

from .conftest import classifier, make_trainer, sources


def xor_model(seed: int = 0) -> Sequential:
    layers = [Dense(8, activation="tanh"), Dense(1, activation="sigmoid")]
    return Sequential(layers, 2, loss="binary_crossentropy").build(np.random.default_rng(seed))


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 4, dtype=float)
XOR_Y = np.array([0, 1, 1, 0] * 4)


def test_xor_is_learned() -> None:
    model = xor_model()
    trainer = Trainer(
        model,
        get_optimizer("adam"),
        get_schedule("constant", lr=0.05),
        epochs=150,
        batch_size=4,
        rng=np.random.default_rng(0),
        task="binary",
    )
    records = list(trainer.fit(*sources(XOR_X, XOR_Y)))
    assert records[-1].metrics["accuracy"] == 1.0
    assert records[-1].loss < 0.1 < records[0].loss
    assert np.array_equal(model.predict(XOR_X[:4]).reshape(-1) > 0.5, [False, True, True, False])


def test_record_shape(data) -> None:
    X, y, Xv, yv = data
    trainer = make_trainer(classifier(1), 2, epochs=3)
    records = list(trainer.fit(*sources(X, y, Xv, yv)))
    assert [f.name for f in dataclasses.fields(EpochRecord)] == [
        "epoch",
        "loss",
        "metrics",
        "val_loss",
        "val_metrics",
        "lr",
        "seconds",
        "samples_per_second",
        "improved",
        "stop",
    ]
    first = records[0]
    assert first.epoch == 1 and isinstance(first.loss, float) and isinstance(first.val_loss, float)
    names = ["accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss"]
    assert list(first.metrics) == names and list(first.val_metrics) == names
    assert all(isinstance(v, float) for v in [*first.metrics.values(), *first.val_metrics.values()])
    assert first.lr == pytest.approx(0.05 / 2)  # cosine warm-up: first of two warm-up epochs
    assert first.seconds > 0 and first.samples_per_second > 0
    assert first.improved and not first.stop
    assert trainer.history[0] == first.to_dict() and len(trainer.history) == 3
    assert set(first.to_dict()) >= {"epoch", "loss", "val_loss", "val_accuracy", "lr"}


def test_regression_without_validation() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    model = Sequential([Dense(1)], 3, loss="mse").build(rng)
    stopping = EarlyStopping(monitor="loss", patience=5)
    trainer = Trainer(
        model,
        get_optimizer("sgd"),
        get_schedule("constant", lr=0.1),
        epochs=40,
        batch_size=16,
        rng=rng,
        task="regression",
        early_stopping=stopping,
    )
    records = list(trainer.fit(*sources(X, y)))
    last = records[-1]
    assert last.val_loss is None and last.val_metrics == {}
    assert list(last.metrics) == ["mse", "rmse", "mae", "r2"]
    assert last.metrics["r2"] > 0.999 and last.metrics["mse"] < 1e-3


def test_unscale_reports_regression_metrics_in_user_units() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 2))
    y = X @ np.array([[1.0], [2.0]])

    def first_record(**kwargs):
        model = Sequential([Dense(1)], 2, loss="mse").build(np.random.default_rng(1))
        trainer = Trainer(
            model,
            get_optimizer("sgd"),
            get_schedule("constant", lr=0.1),
            epochs=1,
            batch_size=8,
            rng=np.random.default_rng(2),
            task="regression",
            **kwargs,
        )
        return next(trainer.fit(*sources(X, y)))

    plain, scaled = first_record(), first_record(unscale=lambda v: 10.0 * v + 5.0)
    assert scaled.loss == plain.loss  # training is untouched
    assert scaled.metrics["mse"] == pytest.approx(100 * plain.metrics["mse"])
    assert scaled.metrics["mae"] == pytest.approx(10 * plain.metrics["mae"])
    assert scaled.metrics["r2"] == pytest.approx(plain.metrics["r2"])


def test_non_finite_loss_keeps_the_last_good_weights(data) -> None:
    X, y, Xv, yv = data
    model = classifier(1)
    # lr jumps from 0.05 to 5e6 at the third epoch: the first two are fine, the third diverges.
    schedule = get_schedule("step", lr=0.05, step_size=2, gamma=1e8)
    trainer = Trainer(
        model, get_optimizer("sgd"), schedule, epochs=6, batch_size=16, rng=np.random.default_rng(2), task="multiclass"
    )
    seen = []
    with pytest.raises(NonFiniteLossError) as caught:
        for _ in trainer.fit(*sources(X, y, Xv, yv)):
            seen.append(model.copy_weights())
    error = caught.value
    assert len(seen) == 2 and error.epoch == 3
    assert "at epoch 3, batch" in error.message
    assert "the last good weights were kept: those from the end of epoch 2" in error.message
    # The library names the setting; the CLI renders it as --lr (tests/cli).
    assert "train.lr" in error.hint and "clip" in error.hint and "NaN" in error.hint
    assert all(np.array_equal(a, b) for a, b in zip(model.copy_weights(), seen[-1], strict=True))
    state = trainer.state_dict()
    assert (state["epoch"], state["batch"]) == (2, 0) and len(history.unpack(state["history"])) == 2


def test_nan_in_the_data_is_reported_at_its_batch() -> None:
    X = XOR_X.copy()
    X[5, 0] = np.nan
    model = xor_model()
    before = model.copy_weights()
    trainer = Trainer(
        model,
        get_optimizer("sgd"),
        get_schedule("constant", lr=0.1),
        epochs=3,
        batch_size=4,
        rng=np.random.default_rng(0),
        task="binary",
    )
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, batch .* the weights training started from"):
        list(trainer.fit(*sources(X, XOR_Y)))
    assert all(np.array_equal(a, b) for a, b in zip(model.copy_weights(), before, strict=True))


def test_grad_hook_sees_gradients_before_the_update_and_clipping_bounds_them() -> None:
    norms: list[float] = []

    def hook(grads: list[np.ndarray]) -> None:
        norms.append(math.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
        for g in grads:
            g *= 1000.0  # a hook may rewrite them in place (an allreduce would)

    model = xor_model()
    trainer = Trainer(
        model,
        get_optimizer("sgd"),
        get_schedule("constant", lr=0.1),
        epochs=1,
        batch_size=16,
        rng=np.random.default_rng(0),
        task="binary",
        clip_norm=0.01,
        grad_hook=hook,
    )
    before = model.copy_weights()
    list(trainer.fit(*sources(XOR_X, XOR_Y)))
    moved = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(model.copy_weights(), before, strict=True)))
    assert len(norms) == 1 and norms[0] > 0
    assert moved == pytest.approx(0.1 * 0.01, rel=1e-3)  # sgd: |Δw| = lr * clipped norm


def test_unknown_monitor_is_a_config_error(data) -> None:
    X, y, _, _ = data
    trainer = make_trainer(classifier(1), 2)
    with pytest.raises(ConfigError, match=r"Cannot monitor 'val_loss'. Expected one of: loss, accuracy"):
        next(trainer.fit(*sources(X, y)))


def test_reduce_on_plateau_gets_the_monitored_value(data) -> None:
    X, y, Xv, yv = data
    schedule = get_schedule("reduce_on_plateau", lr=0.05, patience=1, factor=0.5)
    stopping = EarlyStopping(monitor="val_accuracy", mode="auto", patience=100)
    trainer = Trainer(
        classifier(1),
        get_optimizer("adam"),
        schedule,
        epochs=8,
        batch_size=16,
        rng=np.random.default_rng(2),
        task="multiclass",
        early_stopping=stopping,
    )
    records = list(trainer.fit(*sources(X, y, Xv, yv)))
    assert stopping.mode == "max"
    # The schedule minimises: it is fed the negated accuracy, so its best is -max(accuracy).
    best = max(r.val_metrics["accuracy"] for r in records[:-1])
    assert schedule.best == pytest.approx(-best)


def test_the_epoch_snapshot_keeps_the_history_as_rows(data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Packing the whole history into columns at every epoch's snapshot made a run's bookkeeping
    # grow with the square of its epochs (a 300-epoch tuning trial spent 70 % of its time there).
    X, y, Xv, yv = data
    packed: list[int] = []
    real = history.pack
    monkeypatch.setattr(history, "pack", lambda rows: packed.append(len(rows)) or real(rows))
    trainer = make_trainer(classifier(0), 0, epochs=5)
    assert len(list(trainer.fit(*sources(X, y, Xv, yv)))) == 5
    assert packed == []  # no checkpoint asked for one
    assert len(history.unpack(trainer.state_dict()["history"])) == 5 and packed == [5]


def test_without_training_metrics_the_validation_metrics_stay_monitorable(data) -> None:  # type: ignore[no-untyped-def]
    X, y, Xv, yv = data
    stopping = EarlyStopping(monitor="val_accuracy", mode="max", patience=100, restore_best_weights=True)
    trainer = make_trainer(classifier(0), 0, epochs=3, train_metrics=False)
    trainer.early_stopping = stopping
    records = list(trainer.fit(*sources(X, y, Xv, yv)))
    values = records[-1].values()
    assert "val_accuracy" in values and "accuracy" not in values and "val_loss" in values
