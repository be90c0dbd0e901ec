"""save -> load gives the same model; the file has the documented layout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from dlcli.errors import ModelFileError
from dlcli.model_io import FORMAT_VERSION, load_model, load_weights_into, read_summary, save_model
from dlcli.model_io.format import read_name_list

from .conftest import make_model, raw_inputs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_gives_identical_predictions(model_path: Path, dtype: str) -> None:
    model = make_model(dtype)
    save_model(model_path, model)
    loaded = load_model(model_path)
    X = raw_inputs()
    assert loaded.model.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(loaded.model.predict(X), model.predict(X))
    assert loaded.model.get_config() == model.get_config()
    theirs = loaded.model.get_weights()
    for name, mine in model.get_weights().items():
        assert [k for k, _ in mine] == [k for k, _ in theirs[name]]
        for (key, a), (_, b) in zip(mine, theirs[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}/{key}")
            assert a.dtype == b.dtype


def test_schema_metadata_and_identification_round_trip(model_path: Path) -> None:
    schema = {
        "task": "multiclass",
        "target": "species",
        "classes": ["a", "b", "c"],
        "features": [{"name": "colour", "kind": "categorical", "categories": ["red", "blue"]}],
    }
    metadata = {
        "data_sha256": "ab" * 32,
        "seed": 7,
        "metrics": {"accuracy": np.float64(0.75)},
        "history": [{"epoch": 1, "loss": np.float32(0.5)}],
    }
    save_model(model_path, make_model(), schema=schema, metadata=metadata)
    loaded = load_model(model_path)
    assert loaded.schema == schema
    assert loaded.metadata == {**metadata, "metrics": {"accuracy": 0.75}, "history": [{"epoch": 1, "loss": 0.5}]}
    assert loaded.training_state is None
    assert (loaded.format_name, loaded.format_version) == ("dlcli-model", FORMAT_VERSION)
    assert loaded.created and loaded.created.endswith("+00:00")


def test_file_has_the_keras_legacy_layout(model_path: Path) -> None:
    model = make_model()
    save_model(model_path, model, metadata={"seed": 1})
    with h5py.File(model_path, "r") as f:
        assert f.attrs["dlcli_format"] == "dlcli-model"
        assert int(f.attrs["format_version"]) == 1
        assert {"model_config", "keras_version", "backend", "created", "dlcli_version"} <= set(f.attrs)
        weights = f["model_weights"]
        assert read_name_list(weights, "layer_names") == [layer.name for layer in model.layers]
        assert read_name_list(weights["batch_normalization"], "weight_names") == [
            f"batch_normalization/{w}" for w in ("gamma", "beta", "moving_mean", "moving_variance")
        ]
        assert weights["dense/dense/kernel"].shape == (5, 8)
        assert read_name_list(weights["dropout"], "weight_names") == []
        assert set(f["dlcli"]) == {"metadata"}


def test_file_has_no_pickle_and_old_superblock(model_path: Path) -> None:
    save_model(
        model_path, make_model(), schema={"a": 1}, metadata={"b": [1, 2]}, training_state={"c": np.zeros(2), "d": "x"}
    )
    with h5py.File(model_path, "r") as f:

        def check(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "O":
                assert h5py.check_string_dtype(obj.dtype), name  # only variable-length strings
            assert obj.dtype.kind != "V" if isinstance(obj, h5py.Dataset) else True

        f.visititems(check)
    # After the 512-byte user block (the seal), superblock version 0 (libver "earliest"):
    # readable by h5dump from HDF5 1.8 and 1.10.
    content = model_path.read_bytes()
    assert content.startswith(b"dlcli-sha256:") and content[512:520] == b"\x89HDF\r\n\x1a\n"
    assert content[512 + 8] == 0


def test_checkpoint_training_state_round_trip(model_path: Path) -> None:
    rng = np.random.default_rng(123)
    rng.random(5)
    state: dict[str, Any] = {
        "epoch": 4,
        "batch": 17,
        "rng": rng.bit_generator.state,
        "optimizer": {
            "name": "adam",
            "t": 40,
            "m": [np.ones((5, 8), np.float32), np.zeros(8)],
            "lr": 1e-3,
            "beta": (0.9, 0.999),
        },
        "early_stopping": {"best": None, "wait": 0},
        "history": [{"loss": 1.25}],
    }
    save_model(model_path, make_model(), metadata={"kind": "checkpoint"}, training_state=state)
    loaded = load_model(model_path).training_state
    assert loaded is not None
    m = loaded["optimizer"].pop("m")
    state["optimizer"].pop("m")
    np.testing.assert_array_equal(m[0], np.ones((5, 8), np.float32))
    assert m[0].dtype == np.float32
    assert loaded == state
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng"]
    assert restored.random() == rng.random()


def test_summary_matches_the_model(model_path: Path) -> None:
    model = make_model()
    save_model(model_path, model, metadata={"metrics": {"accuracy": 0.5}}, training_state={"a": 1})
    summary = read_summary(model_path)
    assert [row["name"] for row in summary["layers"]] == [layer.name for layer in model.layers]
    assert [row["output_dim"] for row in summary["layers"]] == [5, 8, 8, 8, 3, 3]
    assert summary["params"] == model.count_params()
    assert summary["trainable_params"] == sum(p.size for p in model.parameters())
    assert summary["layers"][1]["weights"] == {"kernel": [5, 8], "bias": [8]}
    assert (summary["metrics"], summary["has_training_state"]) == ({"accuracy": 0.5}, True)
    assert (summary["input_dim"], summary["dtype"], summary["loss"]) == (5, "float32", "categorical_crossentropy")


def test_warm_start_copies_weights(model_path: Path) -> None:
    source = make_model(seed=0)
    save_model(model_path, source)
    target = make_model(seed=9)
    load_weights_into(target, model_path)
    X = raw_inputs()
    np.testing.assert_array_equal(target.predict(X), source.predict(X))


def test_warm_start_refuses_a_different_architecture(model_path: Path) -> None:
    from dlcli.nn import Dense, Sequential

    save_model(model_path, make_model())
    other = Sequential([Dense(3)], 5).build(np.random.default_rng(0))
    with pytest.raises(ModelFileError) as info:
        load_weights_into(other, model_path)
    assert info.value.message == (
        f"Cannot load weights from '{model_path}': its layers (Normalization, Dense, "
        "BatchNormalization, Dropout, Dense, Activation) differ from this model's (Dense)."
    )


def test_save_replaces_an_existing_file(model_path: Path) -> None:
    save_model(model_path, make_model(seed=0))
    second = make_model(seed=5)
    save_model(model_path, second)
    np.testing.assert_array_equal(load_model(model_path).model.predict(raw_inputs()), second.predict(raw_inputs()))
    assert [p.name for p in model_path.parent.iterdir()] == ["model.h5"]


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="h5dump (hdf5-tools) not installed")
def test_h5dump_reads_the_file(model_path: Path) -> None:
    save_model(model_path, make_model(), metadata={"seed": 1}, training_state={"a": np.ones(2)})
    result = subprocess.run(["h5dump", str(model_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"dlcli-model"' in result.stdout
