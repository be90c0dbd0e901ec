"""Any state dict survives the file: a hypothesis round trip, plus the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcli.model_io.state_tree import read_tree, write_tree

DTYPES = st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint16, np.bool_])
ARRAYS = DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**130), 2**130),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    DTYPES.flatmap(lambda dt: hnp.from_dtype(np.dtype(dt))),
)
KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["__ndarray__", "__dict__", "__tuple__"]), st.integers(-5, 5))
TREES = st.recursive(
    st.one_of(SCALARS, ARRAYS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3), st.tuples(inner, inner)
    ),
    max_leaves=12,
)


def assert_same(a: Any, b: Any) -> None:
    """Equal values and equal types, arrays compared exactly (NaN-aware, with dtype)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    else:
        assert a == b


def round_trip(tmp_path: Path, tree: Any) -> Any:
    path = tmp_path / "state.h5"
    with h5py.File(path, "w") as f:
        write_tree(f.create_group("state"), tree)
    with h5py.File(path, "r") as f:
        return read_tree(f["state"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(st.text(max_size=6), TREES, max_size=4))
def test_any_state_dict_round_trips(tmp_path: Path, tree: dict[str, Any]) -> None:
    assert_same(round_trip(tmp_path, tree), tree)


def test_rng_state_with_128_bit_integers(tmp_path: Path) -> None:
    rng = np.random.default_rng(2**100)
    rng.normal(size=3)
    state = round_trip(tmp_path, {"rng": rng.bit_generator.state})["rng"]
    assert state == rng.bit_generator.state
    again = np.random.default_rng()
    again.bit_generator.state = state
    assert again.normal() == rng.normal()


@pytest.mark.parametrize(
    "leaf, kind",
    [(np.array(["a"]), "<U1"), (np.array([object()]), "object"), (object(), "object"), ({(1, 2): 3}, "tuple")],
)
def test_values_that_need_pickle_are_refused(tmp_path: Path, leaf: Any, kind: str) -> None:
    with pytest.raises(TypeError, match=kind.replace("<", "")) as info:
        round_trip(tmp_path, {"optimizer": {"m": leaf}})
    assert "training_state['optimizer']['m']" in str(info.value)
