"""Early stopping: improvement rules, patience, restore-best, through the Trainer."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.errors import ConfigError
from dlcli.nn import Dense, Sequential, get_optimizer, get_schedule
from dlcli.train.loop import EarlyStopping, Trainer

from .conftest import sources


class FakeModel:
    """Only what EarlyStopping touches: copy_weights / restore_weights."""

    def __init__(self) -> None:
        self.w = np.zeros(1)

    def copy_weights(self) -> list[np.ndarray]:
        return [self.w.copy()]

    def restore_weights(self, saved: list[np.ndarray]) -> None:
        np.copyto(self.w, saved[0])


def run(stopping: EarlyStopping, values: list[float]) -> list[tuple[bool, bool]]:
    model, out = FakeModel(), []
    for epoch, value in enumerate(values, start=1):
        model.w[0] = epoch
        out.append(stopping.update(value, epoch, model))
        if out[-1][1]:
            break
    return out


def test_patience_and_min_delta() -> None:
    stopping = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)
    # 0.95 is not better than 1.0 by more than 0.1; two such epochs stop.
    assert run(stopping, [1.0, 0.95, 0.5, 0.45, 0.49, 0.1]) == [
        (True, False),
        (False, False),
        (True, False),
        (False, False),
        (False, True),
    ]
    assert (stopping.best, stopping.best_epoch, stopping.stopped_epoch) == (0.5, 3, 5)


def test_patience_zero_stops_at_the_first_non_improvement() -> None:
    assert run(EarlyStopping(patience=0), [1.0, 0.9, 0.9]) == [(True, False), (True, False), (False, True)]


@pytest.mark.parametrize(
    "monitor, mode",
    [("val_loss", "min"), ("val_accuracy", "max"), ("val_f1_macro", "max"), ("r2", "max"), ("mae", "min")],
)
def test_auto_mode(monitor: str, mode: str) -> None:
    assert EarlyStopping(monitor=monitor, mode="auto").mode == mode


def test_nan_never_improves_and_bad_settings_are_config_errors() -> None:
    assert run(EarlyStopping(patience=1), [float("nan"), 1.0]) == [(False, True)]
    with pytest.raises(ConfigError, match="mode must be 'min', 'max' or 'auto', got 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ConfigError, match="patience must be >= 0, got -1"):
        EarlyStopping(patience=-1)


def test_restore_best_and_state_round_trip() -> None:
    stopping, model = EarlyStopping(monitor="val_accuracy", patience=1), FakeModel()
    for epoch, value in enumerate([0.5, 0.8, 0.7], start=1):
        model.w[0] = epoch
        stopping.update(value, epoch, model)
    copy = EarlyStopping(monitor="val_accuracy", patience=1)
    copy.load_state_dict(stopping.state_dict())
    assert copy.restore(model) and model.w[0] == 2.0 and copy.best_epoch == 2
    with pytest.raises(ConfigError, match="monitors 'val_accuracy', but this run monitors 'val_loss'"):
        EarlyStopping(monitor="val_loss").load_state_dict(stopping.state_dict())


def test_trainer_stops_early_and_restores_the_best_epoch() -> None:
    # Train on y = x, validate on y = -x: the better the fit, the worse the validation loss.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 1))
    model = Sequential([Dense(1)], 1, loss="mse").build(rng)
    stopping = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    trainer = Trainer(
        model,
        get_optimizer("sgd"),
        get_schedule("constant", lr=0.05),
        epochs=50,
        batch_size=8,
        rng=rng,
        task="regression",
        early_stopping=stopping,
    )
    weights, records = {}, []
    for record in trainer.fit(*sources(X, X, X, -X)):
        records.append(record)
        if not record.stop:
            weights[record.epoch] = model.copy_weights()
    assert records[-1].stop and len(records) == stopping.best_epoch + 2 < 50
    assert [r.improved for r in records[-2:]] == [False, False]
    best = weights[stopping.best_epoch]
    assert all(np.array_equal(a, b) for a, b in zip(model.copy_weights(), best, strict=True))
    assert list(trainer.fit(*sources(X, X, X, -X))) == []  # finished: a second fit has nothing to do
