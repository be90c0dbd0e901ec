"""More crafted files (resealed, as an attacker would): link cycles, links and paths that
would hang, shapes without data, JSON of the wrong kind, checkpoints that cannot resume.

Each is one ModelFileError from load_model (and read_summary where it reads that part).
Cases that hung or exhausted memory before their fix run in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from dlcli.data.batches import ArrayBatchSource
from dlcli.errors import ModelFileError
from dlcli.model_io import load_model, read_summary, save_model
from dlcli.model_io.state_tree import read_tree, write_tree
from dlcli.nn import BatchNormalization, Dense, Sequential, get_optimizer, get_schedule
from dlcli.train.loop import EarlyStopping, Trainer

from .conftest import crafted, make_model, raw_inputs

ROOT = Path(__file__).resolve().parents[2]
STATE = "/dlcli/training_state"


def refused(path: Path, *, summary: bool = True) -> str:
    """The message (without the path prefix) both readers refuse ``path`` with."""
    messages = []
    for read in (load_model, read_summary) if summary else (load_model,):
        with pytest.raises(ModelFileError) as info:
            read(path)
        messages.append(info.value.message.removeprefix(f"'{path}' cannot be loaded: "))
    assert len(set(messages)) == 1, messages
    return messages[0]


def in_subprocess(code: str, timeout: float = 60) -> str:
    """``code``'s output, run with a bounded address space, so a hang or a huge allocation
    fails the test instead of the test run."""
    prelude = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY))\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


LOAD = """
from dlcli.errors import ModelFileError
from dlcli.model_io import load_model
try:
    print("loaded", load_model({path!r}).model.count_params())
except ModelFileError as exc:
    print(exc.message)
"""


@pytest.fixture
def saved(model_path: Path) -> Path:
    save_model(model_path, make_model(), schema={"task": "multiclass"}, metadata={"kind": "model"})
    return model_path


# --- links and paths that would hang --------------------------------------------------------


def test_a_hard_link_cycle_is_walked_once(saved: Path) -> None:
    with crafted(saved) as f:
        f["model_weights/dense/loop"] = f["/"]  # the walk used to follow it until memory ran out
    assert in_subprocess(LOAD.format(path=str(saved))) == f"loaded {make_model().count_params()}"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_external_link_in_place_of_the_weights_group_is_refused_before_it_is_followed(
    saved: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "weights.fifo"
    os.mkfifo(fifo)
    with crafted(saved) as f:
        del f["model_weights"]
        f["model_weights"] = h5py.ExternalLink(str(fifo), "/")  # identifying the file followed it
    assert in_subprocess(LOAD.format(path=str(saved))) == (
        f"'{saved}' cannot be loaded: /model_weights is a link to '{fifo}'; "
        "a model file must be self-contained, not read other files."
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_given_as_the_model_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    assert in_subprocess(LOAD.format(path=str(fifo))) == (
        f"'{fifo}' is not a regular file (a FIFO, device or socket), so it cannot be a model file."
    )


# --- shapes without data --------------------------------------------------------------------


def _big_model(path: Path, width: int, units: int, *, chunked: bool) -> None:
    """A file whose config and weight shapes agree on ``width x units``, with no kernel data."""
    save_model(path, make_model())
    with crafted(path) as f:
        config = json.loads(f.attrs["model_config"])
        first = config["config"]["layers"][0]
        first["config"]["batch_shape"] = [None, width]
        config["config"]["layers"] = [first, {"class_name": "Dense", "config": {"name": "big", "units": units}}]
        f.attrs["model_config"] = json.dumps(config)
        del f.attrs["model_config_sha256"]
        del f["model_weights"]
        group = f.create_group("model_weights").create_group("big")
        group.attrs["weight_names"] = [b"big/kernel", b"big/bias"]
        group.create_dataset("big/kernel", shape=(width, units), dtype="f4", chunks=(64, 64) if chunked else None)
        group.create_dataset("big/bias", data=np.zeros(units, "f4"))


@pytest.mark.parametrize("chunked", [False, True], ids=["contiguous", "chunked"])
def test_a_weight_whose_data_is_not_in_the_file_is_refused_before_the_model_is_built(
    model_path: Path, chunked: bool
) -> None:
    _big_model(model_path, 2**14, 24_000, chunked=chunked)  # 1.5 GiB declared, nothing stored
    assert in_subprocess(LOAD.format(path=str(model_path))) == (
        f"'{model_path}' cannot be loaded: layer 'big' weight 'kernel' (/model_weights/big/big/kernel) "
        "is not all stored in the file: it is truncated or crafted."
    )


# --- JSON of the wrong kind -----------------------------------------------------------------


def _replace_json(f: h5py.File, name: str, document: str) -> None:
    del f[name]
    f.create_dataset(name, data=document, dtype=h5py.string_dtype("utf-8"))


@pytest.mark.parametrize("name", ["schema", "metadata"])
def test_schema_and_metadata_must_be_json_objects(saved: Path, name: str) -> None:
    with crafted(saved) as f:
        _replace_json(f, f"dlcli/{name}", "[1, 2]")
    assert refused(saved) == f"/dlcli/{name} holds a JSON list, not an object."


@pytest.mark.parametrize(
    ("layer", "key", "value", "message"),
    [
        (3, "epsilon", float("nan"), "layer 'batch_normalization' has epsilon nan; it must be a finite number."),
        (
            3,
            "momentum",
            float("inf"),
            "layer 'batch_normalization' has momentum inf; it must be a finite number.",
        ),
        (6, "activation", None, "layer 'activation' has activation None; it must be a string."),
    ],
)
def test_numbers_must_be_finite_and_an_activation_layer_needs_its_activation(
    saved: Path, layer: int, key: str, value: object, message: str
) -> None:
    with crafted(saved) as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][layer]["config"][key] = value
        f.attrs["model_config"] = json.dumps(config)
        del f.attrs["model_config_sha256"]
    assert refused(saved) == message


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deep_json_names_the_attribute(saved: Path, depth: int) -> None:
    with crafted(saved) as f:
        f.attrs["model_config"] = "[" * depth + "]" * depth
        del f.attrs["model_config_sha256"]
    assert refused(saved) == "its model_config attribute nests too deeply to be dlcli's (more than 100 levels)."


def test_deep_json_datasets_are_named(saved: Path) -> None:
    with crafted(saved) as f:
        _replace_json(f, "dlcli/metadata", '{"a": ' + "[" * 500 + "]" * 500 + "}")
    assert refused(saved) == "/dlcli/metadata nests too deeply to be dlcli's (more than 100 levels)."


def test_what_the_reader_refuses_is_never_written(model_path: Path) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nests too deeply"):
        save_model(model_path, make_model(), metadata={"deep": deep})
    with h5py.File(model_path, "w") as f, pytest.raises(ValueError, match="nests too deeply"):
        write_tree(f.create_group("state"), {"deep": deep})
    save_model(model_path, make_model(), metadata={"deep": deep[0]})  # 100 levels: fine
    assert load_model(model_path).metadata == {"deep": deep[0]}


# --- checkpoints ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> tuple[Sequential, dict[str, Any]]:
    """A model and a real trainer's state after one epoch (Adam slots, best weights)."""
    rng = np.random.default_rng(0)
    layers = [Dense(6, activation="relu"), BatchNormalization(), Dense(2, activation="softmax")]
    model = Sequential(layers, 3, loss="categorical_crossentropy").build(rng)
    stopping = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    trainer = Trainer(
        model,
        get_optimizer("adam"),
        get_schedule("constant", lr=0.01),
        epochs=1,
        batch_size=8,
        rng=rng,
        task="multiclass",
        early_stopping=stopping,
    )
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    list(trainer.fit(ArrayBatchSource(X, y), ArrayBatchSource(X[:8], y[:8])))
    return model, trainer.state_dict()


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    with h5py.File("copy.h5", "w", driver="core", backing_store=False) as f:
        write_tree(f.create_group("s"), state)
        copied: dict[str, Any] = read_tree(f["s"])
        return copied


def test_a_real_checkpoint_loads(model_path: Path, trained: tuple[Sequential, dict[str, Any]]) -> None:
    save_model(model_path, trained[0], metadata={"kind": "checkpoint"}, training_state=trained[1])
    state = load_model(model_path).training_state
    assert state is not None and state["step"] == trained[1]["step"]


def _set(*keys: Any, value: Any = None, drop: bool = False) -> Callable[[dict[str, Any]], None]:
    def change(state: dict[str, Any]) -> None:
        table = state
        for key in keys[:-1]:
            table = table[key]
        if drop:
            del table[keys[-1]]
        else:
            table[keys[-1]] = value

    return change


BAD_STATES = {
    "no-optimizer": (_set("optimizer", drop=True), "its training state lacks 'optimizer'"),
    "no-epoch": (_set("epoch", drop=True), "its training state lacks 'epoch'"),
    "no-step": (_set("step", drop=True), "its training state lacks 'step'"),
    "no-iterations": (_set("optimizer", "iterations", drop=True), "its training state lacks 'optimizer iterations'"),
    "epoch-string": (_set("epoch", value="3"), "its training state has epoch = '3', expected an integer >= 0"),
    "step-float": (_set("step", value=1.5), "its training state has step = 1.5, expected an integer >= 0"),
    "optimizer-list": (
        _set("optimizer", value=[1]),
        "its training state has optimizer = [1], expected a table of its state",
    ),
    "slot-shape": (
        _set("optimizer", "m", value=np.zeros(7, np.float32)),
        "its training state has optimizer slot 'm' of shape (7,), expected (50,): "
        "one value per trainable parameter of the model",
    ),
    "slot-dtype": (
        _set("optimizer", "m", value=np.zeros(50, np.int64)),
        "its training state has optimizer slot 'm' of dtype int64, expected floating point",
    ),
    "best-weights-count": (
        _set("early_stopping", "best_weights", value=[np.zeros(3)]),
        "its training state has 1 early-stopping best weights, expected 8 arrays",
    ),
    "best-weights-shape": (
        _set("early_stopping", "best_weights", 0, value=np.zeros((6, 3))),
        "its training state has early-stopping best weight 0 of shape (6, 3), expected a number array of shape (3, 6)",
    ),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_a_checkpoint_whose_state_does_not_fit_its_model(
    model_path: Path, trained: tuple[Sequential, dict[str, Any]], case: str
) -> None:
    change, message = BAD_STATES[case]
    state = _copy(trained[1])
    change(state)
    save_model(model_path, trained[0], metadata={"kind": "checkpoint"}, training_state=state)
    assert refused(model_path, summary=False) == message + "."
    with pytest.raises(ModelFileError) as info:
        load_model(model_path)
    assert info.value.hint and "resume from another checkpoint" in info.value.hint


TREES = {
    "not-a-table": ("[1, 2]", "its training state is list, expected a table of named values"),
    "array-twice": (
        '{"epoch": 1, "optimizer": {"a": {"__ndarray__": 0}, "b": {"__ndarray__": 0}}}',
        f"{STATE}/tree refers to array 0 twice",
    ),
    "index-not-int": (
        '{"epoch": 1, "optimizer": {"a": {"__ndarray__": "0"}}}',
        f"{STATE}/tree refers to array 0, not an index",
    ),
    "tuple-not-list": (
        '{"epoch": 1, "optimizer": {"a": {"__tuple__": 5}}}',
        f"{STATE}/tree holds __tuple__ with int, not a list",
    ),
    "dict-entry": (
        '{"epoch": 1, "optimizer": {"__dict__": [[[1], 2]]}}',
        f"{STATE}/tree holds a __dict__ entry [[1], 2], not [key, value]",
    ),
}


@pytest.mark.parametrize("case", TREES)
def test_a_damaged_state_tree(model_path: Path, case: str) -> None:
    document, message = TREES[case]
    model = Sequential([Dense(2)], 3).build(np.random.default_rng(0))
    save_model(
        model_path, model, metadata={"kind": "checkpoint"}, training_state={"epoch": 1, "optimizer": {"m": np.ones(3)}}
    )
    with crafted(model_path) as f:
        _replace_json(f, f"{STATE}/tree", document)
    assert refused(model_path, summary=False) == message + "."


def test_a_model_file_may_hold_any_state(model_path: Path) -> None:
    """Only a checkpoint (metadata kind) must be resumable; the store itself is generic."""
    save_model(model_path, make_model(), metadata={"kind": "model"}, training_state={"anything": [1]})
    loaded = load_model(model_path)
    assert loaded.training_state == {"anything": [1]}
    np.testing.assert_array_equal(loaded.model.predict(raw_inputs()), make_model().predict(raw_inputs()))
    assert re.match(r"^[0-9a-f]{64}$", h5py.File(model_path, "r").attrs["model_config_sha256"])
