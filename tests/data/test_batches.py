"""Batch sources: epoch orders, evaluation chunks, shards and their state."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.data.batches import ArrayBatchSource
from dlcli.errors import DataError


def source(n: int = 10) -> ArrayBatchSource:
    X = np.arange(n, dtype=np.float64).reshape(-1, 1)
    return ArrayBatchSource(X, np.arange(n), dtype=np.float32)


def rows(batches) -> list[list[int]]:  # type: ignore[no-untyped-def]
    return [y.tolist() for _, y in batches]


def flat(lists: list[list[int]]) -> list[int]:
    return [v for part in lists for v in part]


def test_batches_reshuffle_each_epoch_and_cover_all_rows() -> None:
    rng = np.random.default_rng(0)
    data = source()
    first, second = data.epoch(rng, 4), data.epoch(rng, 4)
    assert len(first) == 3 and [len(b) for b in rows(first.batches())] == [4, 4, 2]
    assert sorted(flat(rows(first.batches()))) == list(range(10))
    assert flat(rows(first.batches())) != flat(rows(second.batches()))


def test_an_epoch_is_one_draw_so_its_order_can_be_redrawn_for_resume() -> None:
    rng = np.random.default_rng(3)
    state = dict(rng.bit_generator.state)
    order = rows(source().epoch(rng, 3).batches())
    after = dict(rng.bit_generator.state)
    rng.bit_generator.state = state
    again = source().epoch(rng, 3)
    assert rows(again.batches(start=2)) == order[2:]
    assert rng.bit_generator.state == after


def test_inputs_are_cast_once_and_targets_stay_paired() -> None:
    data = source()
    X, y = next(data.epoch(np.random.default_rng(1), 4).batches())
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert X[:, 0].astype(int).tolist() == y.tolist()


@pytest.mark.parametrize("world", [2, 3])
def test_shards_split_every_global_batch_into_disjoint_parts(world: int) -> None:
    data = source(11)
    global_epoch = data.epoch(np.random.default_rng(7), 4)
    parts = [data.shard(rank, world).epoch(np.random.default_rng(7), 4) for rank in range(world)]
    assert all(len(p) == len(global_epoch) for p in parts)
    for b, (_, y) in enumerate(global_epoch.batches()):
        pieces = [rows(p.batches(start=b))[0] for p in parts]
        assert flat(pieces) == y.tolist()  # in order, disjoint, nothing left out


def test_shard_chunks_cover_the_rows_once() -> None:
    data = source(11)
    seen = [y.tolist() for rank in range(3) for _, y in data.shard(rank, 3).chunks(2)]
    assert flat(seen) == list(range(11))
    assert [data.shard(rank, 3).n_rows for rank in range(3)] == [4, 4, 3]


def test_state_names_the_data() -> None:
    assert source(11).shard(1, 2).state_dict() == {"kind": "arrays", "rows": 11, "features": 1, "rank": 1, "world": 2}


def test_bad_arrays_are_data_errors() -> None:
    with pytest.raises(DataError, match="matching, non-zero row counts"):
        ArrayBatchSource(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(DataError, match="shape"):
        ArrayBatchSource(np.zeros(3), np.zeros(3))
