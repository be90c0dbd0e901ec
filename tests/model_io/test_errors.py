"""Every way a file can be wrong gives a ModelFileError with the documented message."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from dlcli.errors import ModelFileError
from dlcli.model_io import load_model, load_weights_into, read_summary, save_model

from .conftest import crafted, make_model


def load_error(path: Path) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.h5"
    assert load_error(path).message == f"'{path}' does not exist."


def test_directory(tmp_path: Path) -> None:
    assert load_error(tmp_path).message == f"'{tmp_path}' is a directory, not a model file."


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    error = load_error(path)
    assert error.message == f"'{path}' is not a dlcli model file: it is not an HDF5 file."
    assert error.hint and "dlcli train" in error.hint


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    path.touch()
    assert load_error(path).message == f"'{path}' is not a dlcli model file: it is not an HDF5 file."


def test_truncated_file(tmp_path: Path, model_path: Path) -> None:
    save_model(model_path, make_model())
    data = model_path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    error = load_error(truncated)
    assert error.message == (
        f"'{truncated}' is damaged: its content does not match the checksum dlcli wrote with it "
        "(a flipped bit, a truncated or partial copy)."
    )
    assert error.hint and "again" in error.hint
    unsealed = tmp_path / "unsealed.h5"  # a file without a seal (Keras's) is left to HDF5 to judge
    unsealed.write_bytes(b"\0" * 512 + data[512 : len(data) // 2])
    assert load_error(unsealed).message.startswith(
        f"'{unsealed}' is not a dlcli model file: it is truncated or corrupted (HDF5 cannot open it: "
    )


def test_foreign_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.zeros((3, 2))
    assert load_error(path).message == (
        f"'{path}' is not a dlcli model file: it is an HDF5 file without a 'dlcli_format' "
        "attribute or a Keras model (model_config, model_weights)."
    )


def test_other_format_name(model_path: Path) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        f.attrs["dlcli_format"] = "dlcli-dataset"
    assert load_error(model_path).message == (
        f"'{model_path}' is not a dlcli model file: its format is 'dlcli-dataset', expected 'dlcli-model'."
    )


def test_newer_format_version_says_which_dlcli_to_install(model_path: Path) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        f.attrs["format_version"] = 2
        f.attrs["dlcli_version"] = "0.4.0"
    error = load_error(model_path)
    assert error.message == (f"'{model_path}' uses model format version 2, but dlcli 0.1.0 reads versions 1 to 1.")
    assert error.hint == "It was written by dlcli 0.4.0; upgrade with: pip install --upgrade 'dlcli>=0.4.0'"


@pytest.mark.parametrize("value", ["1", 0, -3, 1.5])
def test_malformed_format_version(model_path: Path, value: object) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        f.attrs["format_version"] = value
    assert load_error(model_path).message == (
        f"'{model_path}' is not a dlcli model file: format_version is {value!r}, expected a positive integer."
    )


def _replace_kernel(path: Path, layer: str, shape: tuple[int, ...]) -> None:
    with crafted(path) as f:
        del f[f"model_weights/{layer}/{layer}/kernel"]
        f[f"model_weights/{layer}/{layer}/kernel"] = np.zeros(shape, np.float32)


def test_weight_shape_mismatch(model_path: Path) -> None:
    save_model(model_path, make_model())
    _replace_kernel(model_path, "dense_1", (8, 4))
    assert load_error(model_path).message == (
        f"'{model_path}' cannot be loaded: layer 'dense_1' weight 'kernel': expected shape (8, 3), found (8, 4)."
    )


def test_missing_weight(model_path: Path) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        del f["model_weights/dense/dense/bias"]
    assert load_error(model_path).message == (
        f"'{model_path}' cannot be loaded: layer 'dense' lists weight 'dense/bias' but its dataset is missing."
    )


def test_missing_layer_group(model_path: Path) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        del f["model_weights/batch_normalization"]
    assert load_error(model_path).message == (
        f"'{model_path}' cannot be loaded: layer 'batch_normalization' has no weights in the "
        "file (/model_weights/batch_normalization is missing)."
    )


def test_unknown_layer_type(model_path: Path) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        f.attrs["model_config"] = f.attrs["model_config"].replace('"Dropout"', '"Conv2D"')
    assert load_error(model_path).message == (
        f"'{model_path}' cannot be loaded: layer 'dropout' is a Conv2D; dlcli supports "
        "Dense, Dropout, BatchNormalization, Activation, Normalization."
    )


def test_bad_json(model_path: Path) -> None:
    save_model(model_path, make_model(), metadata={"a": 1})
    with crafted(model_path) as f:
        del f["dlcli/metadata"]
        f.create_dataset("dlcli/metadata", data="{not json", dtype=h5py.string_dtype())
    assert load_error(model_path).message == (f"'{model_path}' cannot be loaded: /dlcli/metadata is not valid JSON.")


def test_summary_and_warm_start_validate_too(tmp_path: Path, model_path: Path) -> None:
    text = tmp_path / "x.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="is not an HDF5 file"):
        read_summary(text)
    save_model(model_path, make_model())
    _replace_kernel(model_path, "dense", (5, 9))
    with pytest.raises(ModelFileError) as info:
        load_weights_into(make_model(), model_path)
    assert info.value.message == (
        f"Cannot load weights from '{model_path}': layer 'dense' weight 'kernel': expected shape (5, 8), found (5, 9)."
    )


@pytest.mark.parametrize(
    "part, what", [("model_config", "'model_config' attribute"), ("model_weights", "'model_weights' group")]
)
def test_missing_keras_part(model_path: Path, part: str, what: str) -> None:
    save_model(model_path, make_model())
    with crafted(model_path) as f:
        if part in f.attrs:
            del f.attrs[part]
        else:
            del f[part]
    assert load_error(model_path).message == f"'{model_path}' cannot be loaded: it has no {what}."
