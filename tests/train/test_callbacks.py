"""Callbacks around the record stream: order, failures, the end; and what a run composes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlcli.errors import NonFiniteLossError
from dlcli.nn import get_optimizer, get_schedule
from dlcli.train import Callback, EpochRecord, OnEpoch, run_callbacks

from .conftest import blobs, classifier, make_trainer, sources


class Log(Callback):
    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.seen.append(f"{self.name}:{record.epoch}")

    def on_failure(self, error: NonFiniteLossError) -> None:
        self.seen.append(f"{self.name}:failed")
        error.hint = "amended"

    def on_train_end(self) -> None:
        self.seen.append(f"{self.name}:end")


def test_callbacks_run_in_order_before_the_caller_sees_the_record() -> None:
    seen: list[str] = []
    X, y = blobs(0)
    trainer = make_trainer(classifier(0), seed=1, epochs=2, schedule="constant")
    for record in run_callbacks(trainer.fit(*sources(X, y, X, y)), [Log("a", seen), Log("b", seen)]):
        seen.append(f"caller:{record.epoch}")
    assert seen == ["a:1", "b:1", "caller:1", "a:2", "b:2", "caller:2", "a:end", "b:end"]


def test_a_divergence_reaches_every_callback_then_the_caller() -> None:
    seen: list[str] = []
    X, y = blobs(0)
    trainer = make_trainer(classifier(0), seed=1, epochs=3)
    trainer.optimizer, trainer.schedule = get_optimizer("sgd"), get_schedule("constant", lr=1e30)
    with pytest.raises(NonFiniteLossError) as info:
        list(run_callbacks(trainer.fit(*sources(X, y, X, y)), [Log("a", seen)]))
    assert seen[-1] == "a:failed" and "a:end" not in seen
    assert info.value.hint == "amended"


def test_an_in_memory_run_composes_no_writer(tmp_path: Path) -> None:
    """What a tuning trial does: report each epoch, write nothing."""
    reported: list[float] = []
    X, y = blobs(0)
    trainer = make_trainer(classifier(0), seed=1, epochs=3)
    list(run_callbacks(trainer.fit(*sources(X, y, X, y)), [OnEpoch(lambda r: reported.append(r.val_loss or 0.0))]))
    assert len(reported) == 3 and all(np.isfinite(reported))
    assert list(tmp_path.iterdir()) == []


def test_a_training_run_composes_its_writers(tmp_path: Path) -> None:
    from dlcli.config import load_config
    from dlcli.workflows.callbacks import BestModel, HistoryFile, LastGoodCheckpoint, PeriodicCheckpoint
    from dlcli.workflows.training import prepare_training

    iris = Path(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"
    overrides = {"data.path": str(iris), "data.target": "species", "output.out": str(tmp_path / "a")}
    run = prepare_training(load_config(None, overrides, environ={}))
    assert [type(c) for c in run.callbacks] == [HistoryFile, BestModel, PeriodicCheckpoint, LastGoodCheckpoint]
    quiet = prepare_training(
        load_config(None, {**overrides, "output.out": str(tmp_path / "b"), "train.checkpoint_every": 0}, environ={})
    )
    assert PeriodicCheckpoint not in [type(c) for c in quiet.callbacks]
