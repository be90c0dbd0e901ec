"""Fuzzing model files: every damaged file loads with the very same predictions, or fails
with a ModelFileError — never another exception, a silent change, a hang or a large
allocation.

Three kinds of damage, from hypothesis: single-bit flips anywhere in a checkpoint (the
weights, the HDF5 structure, the JSON), truncations at any length, and attributes replaced
by arbitrary JSON or bytes (the file then resealed, as a crafted file would be).
``load_model`` (predict, eval, resume) and ``read_summary`` (inspect) run on each file.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcli.errors import ModelFileError
from dlcli.model_io import load_model, read_summary, save_model

from .conftest import crafted, make_model, raw_inputs

EXAMPLES = 150  # per kind of damage
MEMORY_BOUND = 64 << 20  # bytes NumPy may allocate while loading a damaged file of ~40 KiB
FUZZ = settings(
    max_examples=EXAMPLES, deadline=2000, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Original(tuple):  # type: ignore[type-arg]
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"<checkpoint of {len(self[0])} bytes>"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray]:
    """A checkpoint's bytes (schema, metadata, training state) and the model's predictions."""
    path = tmp_path_factory.mktemp("fuzz") / "model.h5"
    model = make_model()
    state = {"epoch": 3, "optimizer": {"m": np.ones((5, 8), np.float32), "t": np.int64(7)}, "history": [{"loss": 1.0}]}
    metadata = {"metrics": {"accuracy": 0.5}}
    save_model(path, model, schema={"task": "multiclass"}, metadata=metadata, training_state=state)
    return Original((path.read_bytes(), model.predict(raw_inputs())))


def _outcome(path: Path, expected: np.ndarray) -> str:
    """ "loaded" or "refused"; anything else fails the test."""
    tracemalloc.start()
    try:
        try:
            loaded = load_model(path)
        except ModelFileError:
            with pytest.raises(ModelFileError):  # inspect refuses what loading refuses
                read_summary(path)
            return "refused"
        read_summary(path)
        assert np.array_equal(loaded.model.predict(raw_inputs()), expected), "a damaged file changed predictions"
        return "loaded"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEMORY_BOUND, f"loading allocated {peak} bytes"


@FUZZ
@given(data=st.data())
def test_single_bit_flips(original: tuple[bytes, np.ndarray], tmp_path: Path, data: st.DataObject) -> None:
    content, expected = original
    offset = data.draw(st.integers(0, len(content) - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(content)
    damaged[offset] ^= 1 << bit
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(damaged))
    _outcome(path, expected)


@FUZZ
@given(data=st.data())
def test_truncations(original: tuple[bytes, np.ndarray], tmp_path: Path, data: st.DataObject) -> None:
    content, expected = original
    length = data.draw(st.integers(0, len(content) - 1), label="length")
    path = tmp_path / "truncated.h5"
    path.write_bytes(content[:length])
    assert _outcome(path, expected) == "refused"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
EDITED = [
    ("/", "model_config"),
    ("/", "format_version"),
    ("/", "dlcli_format"),
    ("/model_weights", "layer_names"),
    ("/model_weights/dense", "weight_names"),
    ("/dlcli", "loss"),
    ("/dlcli", "dtype"),
]


def _attribute_value(data: st.DataObject) -> Any:
    kind = data.draw(st.sampled_from(["json", "bytes", "number"]), label="kind")
    if kind == "json":
        return json.dumps(data.draw(JSON, label="json"))
    if kind == "bytes":
        return np.void(data.draw(st.binary(min_size=1, max_size=64), label="bytes"))
    return data.draw(st.integers(-(2**63), 2**63 - 1) | st.floats(), label="number")


@FUZZ
@given(data=st.data())
def test_attribute_edits(original: tuple[bytes, np.ndarray], tmp_path: Path, data: st.DataObject) -> None:
    content, expected = original
    path = tmp_path / "edited.h5"
    path.write_bytes(content)
    where, name = data.draw(st.sampled_from(EDITED), label="attribute")
    with crafted(path) as f:  # resealed: a crafted file, so the checks after the seal's answer
        f[where].attrs[name] = _attribute_value(data)
    _outcome(path, expected)


def test_the_fuzzed_file_is_a_real_checkpoint(original: tuple[bytes, np.ndarray], tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(original[0])
    assert _outcome(path, original[1]) == "loaded"
    assert load_model(path).training_state["epoch"] == 3  # type: ignore[index]
