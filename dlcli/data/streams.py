"""Out-of-core batches: a :class:`~dlcli.data.batches.BatchSource` that reads and encodes
row blocks of a column store as training goes, so memory does not grow with the rows.

Shuffling is two-level, as in TensorFlow's ``shuffle`` over sharded files or WebDataset: each
epoch draws one seed from the trainer's generator; from it, a permutation of the blocks
(about :data:`BLOCK_BYTES` of encoded rows each, consecutive in the file) and, per block, a
permutation of its rows. The epoch visits blocks in the drawn order and rows in each block in
theirs, and mini-batches are consecutive slices of that stream. Unlike a full shuffle, two
rows from different blocks never share a batch unless the blocks are adjacent in the drawn
order, so a file sorted by the target (all of one class first) gives batches dominated by
one class; shuffle such a file once beforehand, or raise ``data.memory_limit`` to train in
memory. The order depends only on the epoch's seed, so a resumed epoch skips to its batch
without reading the blocks before it, and the run stays bit for bit reproducible.

A background thread reads and encodes the next blocks (two ahead) while the step runs on
the current one; h5py reads and NumPy's copies release the interpreter often enough for
the two to overlap.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlcli.data.batches import Batch
from dlcli.data.columns import ColumnStore
from dlcli.data.encode import Encoder
from dlcli.errors import DataError

BLOCK_BYTES = 16 << 20
PREFETCH_BLOCKS = 2


class StreamBatchSource:
    """Rows ``rows`` (sorted store indices) of ``store``, encoded by ``encoder``, with targets ``y``.

    ``rank``/``world`` shard as :class:`~dlcli.data.batches.ArrayBatchSource` does: each global
    batch is split into ``world`` parts; evaluation chunks cover the ``rank``-th part of the rows.
    """

    def __init__(
        self,
        store: ColumnStore,
        encoder: Encoder,
        rows: np.ndarray,
        y: np.ndarray,
        *,
        block_bytes: int = BLOCK_BYTES,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if len(rows) == 0 or len(y) != len(rows):
            raise DataError(f"The data needs matching, non-zero row counts; got {len(rows)} rows and {len(y)} targets.")
        if not 0 <= rank < world:
            raise DataError(f"Shard rank must be in [0, {world}), got {rank}.")
        self.store, self.encoder, self.rows, self.y = store, encoder, np.asarray(rows), y
        self.block_bytes = int(block_bytes)
        self.block_rows = max(1, self.block_bytes // max(1, encoder.width * encoder.dtype.itemsize))
        self.rank, self.world = int(rank), int(world)
        self._mine = np.array_split(np.arange(len(rows)), self.world)[self.rank]

    @property
    def n_rows(self) -> int:
        return len(self._mine)

    @property
    def n_features(self) -> int:
        return self.encoder.width

    def resident_targets(self) -> np.ndarray:
        return self.y  # the inputs stream from the store; the targets are held in memory

    @property
    def n_blocks(self) -> int:
        return int(-(-len(self.rows) // self.block_rows))

    def block(self, g: int, order: np.ndarray | None = None) -> Batch:
        """Block ``g`` (positions ``[g·block_rows, …)`` of :attr:`rows`) encoded, rows in ``order``."""
        lo, hi = g * self.block_rows, min(len(self.rows), (g + 1) * self.block_rows)
        return self._positions(lo, hi, order)

    def _positions(self, lo: int, hi: int, order: np.ndarray | None = None) -> Batch:
        rows = self.rows[lo:hi]
        first = int(rows[0])
        block = self.store.read(first, int(rows[-1]) + 1)
        local = rows - first
        if len(local) != len(block):
            block = block.take(local)
        X, y = self.encoder.encode(block), self.y[lo:hi]
        if order is not None:
            X, y = X[order], y[order]
        return X, y

    def epoch(self, rng: np.random.Generator, batch_size: int) -> _StreamEpoch:
        if int(batch_size) <= 0:
            raise DataError(f"batch_size must be > 0, got {batch_size}.")
        return _StreamEpoch(self, int(rng.integers(2**63)), int(batch_size))

    def chunks(self, rows: int) -> Iterator[Batch]:
        if not len(self._mine):
            return
        start, stop = int(self._mine[0]), int(self._mine[-1]) + 1
        step = max(int(rows), 1)
        # Read blocks of the source's size (bounded in bytes), whatever ``rows`` asks for.
        spans = [(lo, min(stop, lo + self.block_rows)) for lo in range(start, stop, self.block_rows)]
        for X, y in prefetch(lambda: (self._positions(lo, hi) for lo, hi in spans)):
            for i in range(0, len(X), step):
                yield X[i : i + step], y[i : i + step]

    def shard(self, rank: int, world: int) -> StreamBatchSource:
        return StreamBatchSource(
            self.store, self.encoder, self.rows, self.y, block_bytes=self.block_bytes, rank=rank, world=world
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "stream",
            "rows": len(self.rows),
            "features": self.n_features,
            "block_rows": self.block_rows,
            "rank": self.rank,
            "world": self.world,
        }


class _StreamEpoch:
    """One epoch's stream: blocks in a drawn order, rows within each in a drawn order."""

    def __init__(self, source: StreamBatchSource, seed: int, batch_size: int) -> None:
        self.source, self.seed, self.batch_size = source, seed, batch_size
        self.order = np.random.default_rng(seed).permutation(source.n_blocks)

    def __len__(self) -> int:
        return int(-(-len(self.source.rows) // self.batch_size))

    def _within(self, g: int) -> np.ndarray:
        size = min(len(self.source.rows), (g + 1) * self.source.block_rows) - g * self.source.block_rows
        return np.random.default_rng([self.seed, int(g)]).permutation(size)

    def batches(self, start: int = 0) -> Iterator[Batch]:
        source, B = self.source, self.batch_size
        sizes = self._sizes()
        skip = start * B
        first = int(np.searchsorted(np.cumsum(sizes), skip, side="right"))
        offset = skip - int(sizes[:first].sum())
        loaded = prefetch(lambda: (source.block(int(g), self._within(int(g))) for g in self.order[first:]))
        pending_X: list[np.ndarray] = []
        pending_y: list[np.ndarray] = []
        held = 0
        for X, y in loaded:
            if offset:
                X, y, offset = X[offset:], y[offset:], 0
            i = 0
            while i < len(X):
                take = min(B - held, len(X) - i)
                pending_X.append(X[i : i + take])
                pending_y.append(y[i : i + take])
                held += take
                i += take
                if held == B:
                    yield self._part(pending_X, pending_y)
                    pending_X, pending_y, held = [], [], 0
        if held:
            yield self._part(pending_X, pending_y)

    def _sizes(self) -> np.ndarray:
        n, br = len(self.source.rows), self.source.block_rows
        sizes: np.ndarray = np.minimum(n, (self.order + 1) * br) - self.order * br
        return sizes

    def _part(self, Xs: list[np.ndarray], ys: list[np.ndarray]) -> Batch:
        X = Xs[0] if len(Xs) == 1 else np.concatenate(Xs)
        y = ys[0] if len(ys) == 1 else np.concatenate(ys)
        if self.source.world > 1:  # the rank-th of near-equal contiguous parts, as np.array_split
            base, extra = divmod(len(X), self.source.world)
            lo = self.source.rank * base + min(self.source.rank, extra)
            hi = lo + base + (self.source.rank < extra)
            X, y = X[lo:hi], y[lo:hi]
        return X, y


def prefetch(make: Callable[[], Iterator[Any]], depth: int = PREFETCH_BLOCKS) -> Iterator[Any]:
    """Iterate ``make()`` in a background thread, up to ``depth`` items ahead.

    An exception in the thread is raised here; leaving the loop early stops the thread.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in make():
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            items.put(("error", exc))

    thread = threading.Thread(target=work, name="dlcli-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.1)
        thread.join()
