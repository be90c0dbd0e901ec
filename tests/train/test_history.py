"""The checkpoint's history columns read back as the rows they were given, exactly."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dlcli.model_io.state_tree import read_tree, write_tree
from dlcli.train import history

KEYS = ["epoch", "loss", "val_loss", "lr", "improved", "note_count"]
value = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**40), 2**40))
rows = st.lists(st.dictionaries(st.sampled_from(KEYS), value, max_size=6), max_size=30)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


@given(rows)
def test_rows_survive_columns_and_a_trip_through_hdf5(given_rows: list[dict]) -> None:  # type: ignore[type-arg]
    import h5py

    with h5py.File("history.h5", "w", driver="core", backing_store=False) as f:
        write_tree(f.create_group("state"), {"history": history.pack(given_rows)})
        back = history.unpack(read_tree(f["state"])["history"])
    assert len(back) == len(given_rows)
    for original, restored in zip(given_rows, back, strict=True):
        assert list(restored) == list(original)  # the same keys in the same order
        assert all(same(original[k], restored[k]) for k in original)


def test_a_history_with_other_values_stays_rows_and_old_checkpoints_read() -> None:
    odd = [{"epoch": 1, "note": "text"}]
    assert history.pack(odd) == odd
    assert history.unpack([{"epoch": 1, "loss": 0.5}]) == [{"epoch": 1, "loss": 0.5}]  # before columns


def test_columns_take_less_than_half_the_bytes_of_json_rows() -> None:
    import json

    rng = np.random.default_rng(0)
    rows_ = [{"epoch": e, **{f"m{i}": float(rng.random()) for i in range(15)}} for e in range(1, 301)]
    packed = history.pack(rows_)
    assert isinstance(packed, dict)
    assert packed["values"].nbytes + packed["state"].nbytes < len(json.dumps(rows_)) / 2.5
