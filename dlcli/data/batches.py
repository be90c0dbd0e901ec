"""Batch sources: what the training loop reads its mini-batches and evaluation passes from.

The trainer never indexes ``X[idx]`` itself. It asks a :class:`BatchSource` for an epoch's
batch order (drawn from the trainer's seeded generator), for the rows in stored order to
evaluate, and for a :meth:`~BatchSource.shard` when several processes split every batch.
:class:`ArrayBatchSource` holds arrays in memory; an out-of-core source reading a chunked
cache implements the same protocol.

Resume: an epoch's order depends only on the generator state at the start of the epoch (one
draw per epoch), so the trainer saves that state and the batch position, and redraws the same
order on resume. The source's own :meth:`~BatchSource.state_dict` says which data it serves
(rows, features, shard), so a checkpoint resumed on other data fails loudly instead of
continuing on a different batch order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from dlcli.errors import DataError

Batch = tuple[np.ndarray, np.ndarray]


class Epoch(Protocol):
    """One epoch's mini-batches, in the order drawn for it."""

    def __len__(self) -> int:
        """Number of batches (the same on every shard)."""
        ...

    def batches(self, start: int = 0) -> Iterator[Batch]:
        """``(X, y)`` batches from batch ``start`` (0-based) to the end of the epoch."""
        ...


class BatchSource(Protocol):
    """Rows of ``(n_samples, n_features)`` inputs and their targets, served in batches."""

    @property
    def n_rows(self) -> int:
        """Rows this source (this shard) holds: what :meth:`chunks` yields."""
        ...

    @property
    def n_features(self) -> int: ...

    def epoch(self, rng: np.random.Generator, batch_size: int) -> Epoch:
        """This epoch's batches, shuffled by exactly one draw from ``rng``."""
        ...

    def chunks(self, rows: int) -> Iterator[Batch]:
        """Every row once, in stored order, ``rows`` at a time (for evaluation passes)."""
        ...

    def resident_targets(self) -> np.ndarray | None:
        """Every target at once when they are all in memory (so a trainer can check them once
        per fit instead of at each batch), else ``None``."""
        ...

    def shard(self, rank: int, world: int) -> BatchSource:
        """The part ``rank`` of ``world`` serves: every global batch split into ``world`` parts."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What identifies the data served (for checking a resume), JSON-able."""
        ...


class ArrayBatchSource:
    """A :class:`BatchSource` over in-memory arrays.

    Parameters
    ----------
    X : array ``(n_samples, n_features)``
        Cast once here to ``dtype`` (C-contiguous), not per batch.
    y : array ``(n_samples,)`` or ``(n_samples, k)``
        Targets as the model's loss takes them.
    dtype : dtype, optional
        The model's dtype; default: keep ``X``'s floating dtype.
    rank, world : int
        A shard: of each global batch, this source yields the ``rank``-th of ``world`` near-equal
        contiguous parts (``np.array_split``); evaluation chunks cover the ``rank``-th part of
        the rows.
    """

    def __init__(self, X: Any, y: Any, *, dtype: Any = None, rank: int = 0, world: int = 1) -> None:
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2:
            raise DataError(f"Inputs must have shape (n_samples, n_features), got {X.shape}.")
        if len(X) == 0 or len(y) != len(X):
            raise DataError(f"The data needs matching, non-zero row counts; got {len(X)} inputs and {len(y)} targets.")
        if not 0 <= rank < world:
            raise DataError(f"Shard rank must be in [0, {world}), got {rank}.")
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.y = y
        self.rank, self.world = int(rank), int(world)
        self._rows = np.array_split(np.arange(len(X)), self.world)[self.rank]

    @property
    def n_rows(self) -> int:
        """Rows :meth:`chunks` yields: all of them, or this shard's contiguous part."""
        return len(self._rows)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def epoch(self, rng: np.random.Generator, batch_size: int) -> _ArrayEpoch:
        if int(batch_size) <= 0:
            raise DataError(f"batch_size must be > 0, got {batch_size}.")
        order = rng.permutation(len(self.X))
        return _ArrayEpoch(self, order, int(batch_size))

    def chunks(self, rows: int) -> Iterator[Batch]:
        start, stop = (int(self._rows[0]), int(self._rows[-1]) + 1) if len(self._rows) else (0, 0)
        for begin in range(start, stop, rows):
            end = min(stop, begin + rows)
            yield self.X[begin:end], self.y[begin:end]

    def resident_targets(self) -> np.ndarray:
        targets: np.ndarray = self.y
        return targets

    def shard(self, rank: int, world: int) -> ArrayBatchSource:
        return ArrayBatchSource(self.X, self.y, rank=rank, world=world)

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "arrays",
            "rows": len(self.X),
            "features": self.n_features,
            "rank": self.rank,
            "world": self.world,
        }


class _ArrayEpoch:
    """A permutation sliced into batches; the last batch holds the remainder (not dropped)."""

    def __init__(self, source: ArrayBatchSource, order: np.ndarray, batch_size: int) -> None:
        self.source, self.order, self.batch_size = source, order, batch_size

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def indices(self, batch: int) -> np.ndarray:
        """Row indices of batch ``batch`` on this shard."""
        idx = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        if self.source.world > 1:
            idx = np.array_split(idx, self.source.world)[self.source.rank]
        return idx

    def batches(self, start: int = 0) -> Iterator[Batch]:
        X, y = self.source.X, self.source.y
        for b in range(start, len(self)):
            idx = self.indices(b)
            yield X[idx], y[idx]
