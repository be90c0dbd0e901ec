"""Resume reproduces the uninterrupted run's final weights bit for bit.

The model has Dropout (generator draws), BatchNormalization (moving statistics), Adam
(moments, step count), a cosine schedule with warm-up and early stopping with best weights;
the last batch of each epoch is partial. The trainer state makes a trip through the model
file's generic state store, as a real checkpoint does.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
import pytest

from dlcli.model_io.state_tree import read_tree, write_tree
from dlcli.nn import KERNELS, kernels
from dlcli.train import history

from .conftest import classifier, make_trainer, sources

EPOCHS = 6


@pytest.fixture(autouse=True, params=KERNELS.names())
def kernel_set(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every resume is checked on the NumPy path and on the compiled one."""
    previous = kernels.use(request.param)
    yield request.param
    kernels.restore(previous)


def stored(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` after writing it to and reading it from an in-memory HDF5 file."""
    with h5py.File("state.h5", "w", driver="core", backing_store=False) as f:
        write_tree(f.create_group("training_state"), state)
        return read_tree(f["training_state"])


def weights_of(model: Any) -> dict[str, dict[str, np.ndarray]]:
    return {name: dict(pairs) for name, pairs in model.get_weights().items()}


def assert_same_weights(a: Any, b: Any) -> None:
    wa, wb = a.copy_weights(), b.copy_weights()
    assert len(wa) == len(wb)
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def reference(data: Any) -> Any:
    X, y, Xv, yv = data
    model = classifier(seed=1)
    records = list(make_trainer(model, seed=2, epochs=EPOCHS).fit(*sources(X, y, Xv, yv)))
    assert len(records) == EPOCHS
    return model, records


def resume(data: Any, state: dict[str, Any], weights: dict[str, Any]) -> tuple[Any, list[Any]]:
    """A fresh process's view: other seeds everywhere, then the checkpoint loaded."""
    X, y, Xv, yv = data
    model = classifier(seed=99)
    model.set_weights(weights)
    trainer = make_trainer(model, seed=98, epochs=EPOCHS)
    trainer.load_state_dict(stored(state))
    return model, list(trainer.fit(*sources(X, y, Xv, yv))), trainer


def test_resume_at_an_epoch_boundary_is_bit_exact(data) -> None:
    expected, expected_records = reference(data)
    X, y, Xv, yv = data
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS)
    for record in trainer.fit(*sources(X, y, Xv, yv)):
        if record.epoch == 3:
            state, weights = trainer.state_dict(), weights_of(model)
            break
    resumed, records, trainer = resume(data, state, weights)
    assert [r.epoch for r in records] == [4, 5, 6]
    assert [r.val_loss for r in records] == [r.val_loss for r in expected_records[3:]]
    assert len(trainer.history) == EPOCHS
    assert_same_weights(resumed, expected)


def test_a_checkpoint_from_one_kernel_set_resumes_exactly_on_the_other(data, kernel_set) -> None:  # type: ignore[no-untyped-def]
    expected, _ = reference(data)
    X, y, Xv, yv = data
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS)
    for record in trainer.fit(*sources(X, y, Xv, yv)):
        if record.epoch == 2:
            state, weights = trainer.state_dict(), weights_of(model)
            break
    kernels.use(next(name for name in KERNELS.names() if name != kernel_set))
    resumed, _, _ = resume(data, state, weights)
    assert_same_weights(resumed, expected)


def interrupt_at(step: int) -> Any:
    """A grad hook that delivers a real SIGINT while step ``step`` is in progress."""
    count = {"n": 0}

    def hook(grads: list[np.ndarray]) -> None:
        count["n"] += 1
        if count["n"] == step:
            signal.raise_signal(signal.SIGINT)

    return hook


@pytest.mark.parametrize("step", [3, 6, 16])  # mid-epoch 1, after its last batch, mid-epoch 3
def test_resume_after_ctrl_c_mid_epoch_is_bit_exact(data, step) -> None:
    expected, _ = reference(data)
    X, y, Xv, yv = data
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS, grad_hook=interrupt_at(step))
    with pytest.raises(KeyboardInterrupt):
        for _ in trainer.fit(*sources(X, y, Xv, yv)):
            pass
    state = trainer.state_dict()
    assert state["step"] == step  # the batch in progress was completed, then stopped
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    resumed, _, _ = resume(data, state, weights_of(model))
    assert_same_weights(resumed, expected)


def test_ctrl_c_while_the_caller_handles_a_record_is_delivered_at_the_next_resume(data) -> None:
    # Between epochs the caller writes history and checkpoints; a KeyboardInterrupt raised there
    # could land in a finalizer, where Python prints and swallows it. It must wait for the trainer.
    X, y, Xv, yv = data
    trainer = make_trainer(classifier(seed=1), seed=2, epochs=EPOCHS)
    records = trainer.fit(*sources(X, y, Xv, yv))
    assert next(records).epoch == 1
    signal.raise_signal(signal.SIGINT)  # the caller's code goes on undisturbed
    with pytest.raises(KeyboardInterrupt):
        next(records)
    assert (trainer.state_dict()["epoch"], trainer.state_dict()["batch"]) == (1, 0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_keyboard_interrupt_raised_inside_a_step_rolls_back_to_a_resumable_point(data) -> None:
    expected, _ = reference(data)
    X, y, Xv, yv = data

    def hook(grads: list[np.ndarray]) -> None:
        hook.n += 1  # type: ignore[attr-defined]
        if hook.n == 10:  # type: ignore[attr-defined]
            raise KeyboardInterrupt  # not a signal: nothing can defer it

    hook.n = 0  # type: ignore[attr-defined]
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS, grad_hook=hook)
    with pytest.raises(KeyboardInterrupt):
        list(trainer.fit(*sources(X, y, Xv, yv)))
    state = trainer.state_dict()
    assert (state["epoch"], state["batch"]) == (1, 0)  # 6 steps per epoch: back to epoch 2's start
    resumed, _, _ = resume(data, state, weights_of(model))
    assert_same_weights(resumed, expected)


def test_warm_start_is_just_set_weights_before_fit(data) -> None:
    X, y, Xv, yv = data
    source, _ = reference(data)
    model = classifier(seed=5)
    model.set_weights(weights_of(source))
    trainer = make_trainer(model, seed=6, epochs=3)
    records = list(trainer.fit(*sources(X, y, Xv, yv)))
    assert [r.epoch for r in records] == [1, 2, 3]  # trains afresh: new counters, new history
    assert trainer.state_dict()["optimizer"]["iterations"] == 18


def test_ctrl_c_during_epoch_end_evaluation_arrives_after_the_record(data) -> None:
    X, y, Xv, yv = data
    model = classifier(seed=1)
    evaluate = model.evaluate_loss

    def evaluate_then_interrupt(*args: Any, **kwargs: Any) -> float:
        signal.raise_signal(signal.SIGINT)
        return evaluate(*args, **kwargs)

    model.evaluate_loss = evaluate_then_interrupt  # type: ignore[method-assign]
    trainer = make_trainer(model, seed=2, epochs=EPOCHS)
    records = trainer.fit(*sources(X, y, Xv, yv))
    assert next(records).epoch == 1  # the epoch completes and is reported
    with pytest.raises(KeyboardInterrupt):
        next(records)
    state = trainer.state_dict()
    assert (state["epoch"], state["batch"], len(history.unpack(state["history"]))) == (1, 0, 1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_mid_epoch_on_other_data_is_refused(data) -> None:  # type: ignore[no-untyped-def]
    """Same row count, but a different shard: the saved batch order would not apply."""
    from dlcli.data.batches import ArrayBatchSource
    from dlcli.errors import DataError

    X, y, Xv, yv = data
    model = classifier(0)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS)
    records = trainer.fit(*sources(X, y, Xv, yv))
    next(records)
    trainer._batch = 2  # as after a Ctrl-C mid-epoch (test_resume_after_ctrl_c… covers the real path)
    state = trainer.state_dict()
    assert state["source"] == {"kind": "arrays", "rows": len(X), "features": 2, "rank": 0, "world": 1}
    again = make_trainer(classifier(0), seed=2, epochs=EPOCHS)
    again.load_state_dict(state)
    with pytest.raises(DataError, match="stopped mid-epoch on"):
        next(again.fit(ArrayBatchSource(X, y).shard(0, 2), ArrayBatchSource(Xv, yv)))


def stream_sources(X: Any, y: Any, Xv: Any, yv: Any) -> tuple[Any, Any]:
    """The same data served out of core: a column store read in blocks of 16 rows."""
    from dlcli.data.columns import ArrayStore
    from dlcli.data.encode import Encoder
    from dlcli.data.schema import Feature, Schema
    from dlcli.data.streams import StreamBatchSource

    schema = Schema("multiclass", [Feature(f"x{i}", "numeric") for i in range(X.shape[1])], "y", [0, 1, 2])
    encoder = Encoder(schema, X.dtype)
    block = 16 * X.shape[1] * X.dtype.itemsize

    def source(A: Any, b: Any) -> StreamBatchSource:
        return StreamBatchSource(ArrayStore(A, b, "blobs"), encoder, np.arange(len(A)), b, block_bytes=block)

    return source(X, y), source(Xv, yv)


@pytest.mark.parametrize("step", [3, 16])
def test_out_of_core_training_is_reproducible_and_resumes_bit_exact(data, step) -> None:  # type: ignore[no-untyped-def]
    X, y, Xv, yv = data

    def run(hook: Any = None) -> tuple[Any, Any]:
        model = classifier(seed=1)
        trainer = make_trainer(model, seed=2, epochs=EPOCHS, grad_hook=hook)
        for _ in trainer.fit(*stream_sources(X, y, Xv, yv)):
            pass
        return model, trainer

    expected, _ = run()
    again, _ = run()
    assert_same_weights(again, expected)
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=EPOCHS, grad_hook=interrupt_at(step))
    with pytest.raises(KeyboardInterrupt):
        for _ in trainer.fit(*stream_sources(X, y, Xv, yv)):
            pass
    state = trainer.state_dict()
    assert state["source"]["kind"] == "stream"
    resumed = classifier(seed=99)
    resumed.set_weights(weights_of(model))
    later = make_trainer(resumed, seed=98, epochs=EPOCHS)
    later.load_state_dict(stored(state))
    for _ in later.fit(*stream_sources(X, y, Xv, yv)):
        pass
    assert_same_weights(resumed, expected)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: s.pop("epoch"), "The checkpoint's training state lacks epoch."),
        (lambda s: s.pop("optimizer"), "The checkpoint's training state lacks optimizer."),
        (lambda s: s.__setitem__("epoch", [1, 2]), "The checkpoint's training state is damaged: TypeError"),
        (lambda s: s.__setitem__("optimizer", "adam"), "The checkpoint's training state is damaged"),
        (lambda s: s.__setitem__("history", 3), "The checkpoint's training state is damaged: TypeError"),
    ],
)
def test_a_damaged_training_state_is_a_model_file_error(data, damage, message) -> None:  # type: ignore[no-untyped-def]
    from dlcli.errors import ModelFileError

    X, y, Xv, yv = data
    model = classifier(seed=1)
    trainer = make_trainer(model, seed=2, epochs=3)
    list(trainer.fit(*sources(X, y, Xv, yv)))
    state = stored(trainer.state_dict())
    damage(state)
    with pytest.raises(ModelFileError) as info:
        make_trainer(classifier(seed=1), seed=2, epochs=3).load_state_dict(state)
    assert info.value.message.startswith(message)
