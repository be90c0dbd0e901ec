"""Crafted model files: links and storage outside the file, declared sizes the weights do not
back, JSON of the wrong types or depth, flipped weight bits. Each is one ModelFileError,
from both load_model (predict, eval, resume) and read_summary (inspect)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from dlcli.errors import ModelFileError
from dlcli.model_io import load_model, read_summary, save_model
from dlcli.model_io.verify import seal

from .conftest import crafted, make_model

KERNEL = "model_weights/dense/dense/kernel"


def _config_edit(change: Callable[[dict], None]) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        config = json.loads(f.attrs["model_config"])
        change(config)
        f.attrs["model_config"] = json.dumps(config)

    return edit


def _dense(key: str, value: object) -> Callable[[h5py.File], None]:
    return _config_edit(lambda c: c["config"]["layers"][2]["config"].__setitem__(key, value))


def _external_storage(f: h5py.File) -> None:
    shape = f[KERNEL].shape
    del f[KERNEL]
    f.create_dataset(KERNEL, shape=shape, dtype="f4", external=[("weights.bin", 0, h5py.h5f.UNLIMITED)])


def _virtual(f: h5py.File) -> None:
    shape = f[KERNEL].shape
    del f[KERNEL]
    layout = h5py.VirtualLayout(shape=shape, dtype="f4")
    layout[...] = h5py.VirtualSource("other.h5", "kernel", shape=shape)
    f.create_virtual_dataset(KERNEL, layout)


def _flip_a_weight_bit(f: h5py.File) -> None:
    dataset = f[KERNEL]
    offset = dataset.id.get_offset() if dataset.chunks is None else dataset.id.get_chunk_info(0).byte_offset
    name = f.filename
    f.close()
    with open(name, "r+b") as raw:
        raw.seek(offset + 5)
        byte = raw.read(1)[0]
        raw.seek(offset + 5)
        raw.write(bytes([byte ^ 0x10]))


CASES: list[tuple[str, Callable[[h5py.File], None], str]] = [
    (
        "external-link",
        lambda f: (f.__delitem__(KERNEL), f.__setitem__(KERNEL, h5py.ExternalLink("/dev/zero", "/k"))),
        "/model_weights/dense/dense/kernel is a link to '/dev/zero'; a model file must be self-contained",
    ),
    ("external-storage", _external_storage, "is stored in an external file; a model file must be self-contained"),
    ("virtual", _virtual, "is a virtual dataset; a model file must be self-contained"),
    ("units-float", _dense("units", 8.7), "layer 'dense' has units 8.7; it must be an integer"),
    ("units-string", _dense("units", "8"), "layer 'dense' has units '8'; it must be an integer"),
    ("units-bool", _dense("units", True), "layer 'dense' has units True; it must be an integer"),
    ("units-negative", _dense("units", -8), "layer 'dense' has units -8; it must be between 1 and"),
    ("units-huge", _dense("units", 10**9), "layer 'dense' has units 1000000000; it must be between 1 and"),
    ("units-contradict", _dense("units", 7), "layer 'dense' weight 'kernel': expected shape (5, 7), found (5, 8)"),
    ("activation-number", _dense("activation", 3), "layer 'dense' has activation 3; it must be a string or null"),
    ("activation-unknown", _dense("activation", "relux"), "relux"),
    (
        "layer-is-string",
        _config_edit(lambda c: c["config"]["layers"].__setitem__(1, "Dense")),
        "layer entry 1 of model_config is a string, not an object",
    ),
    (
        "layer-config-null",
        _config_edit(lambda c: c["config"]["layers"][2].__setitem__("config", None)),
        "layer entry 2 (Dense) of model_config has null as config",
    ),
    (
        "input-huge",
        _config_edit(lambda c: c["config"]["layers"][0]["config"].__setitem__("batch_shape", [None, 10**9])),
        "the model's input width is 1000000000; it must be between 1 and",
    ),
    (
        "config-deep",
        lambda f: f.attrs.__setitem__("model_config", "[" * 100_000 + "]" * 100_000),
        "nests too deeply",
    ),
    ("kernel-nan", lambda f: f[KERNEL].__setitem__((0, 0), np.nan), "weight 'kernel' holds NaN or infinite values"),
    ("weight-bit-flip", _flip_a_weight_bit, "layer 'dense' weight 'kernel' fails its checksum: the file is damaged"),
    (
        "config-changed-value",
        _config_edit(lambda c: c["config"]["layers"][3]["config"].__setitem__("epsilon", 0.003)),
        "the model_config attribute does not match its checksum: the file is damaged",
    ),
]


@pytest.mark.parametrize(("name", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_crafted_files_are_refused(
    model_path: Path, name: str, edit: Callable[[h5py.File], None], message: str
) -> None:
    save_model(model_path, make_model())
    f = h5py.File(model_path, "r+")
    try:
        edit(f)
    finally:
        if f.id.valid:
            f.close()
    seal(model_path)  # crafted, not damaged: the checks after the seal's must answer
    for read in (load_model, read_summary):
        with pytest.raises(ModelFileError, match=re.escape(message)):
            read(model_path)


def test_weights_are_stored_with_a_checksum_and_files_without_one_still_load(model_path: Path) -> None:
    model = make_model()
    save_model(model_path, model)
    with crafted(model_path) as f:
        assert f[KERNEL].fletcher32
        value = f[KERNEL][()]
        del f[KERNEL]
        f[KERNEL] = value  # as written before checksums: no filter
        del f.attrs["model_config_sha256"]
    assert np.array_equal(load_model(model_path).model.layers[1].params["kernel"], value)
