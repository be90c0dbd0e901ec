"""Training data preparation: open the data as a column store, split, fit, and serve batches.

The split comes first so that everything fitted (feature fills, categories, target scaling,
the normalisation layer) sees the training rows only. Only index-sized arrays (the target,
the split) are held for every row; the inputs are either encoded once into one matrix
(training rows, then validation rows, so the refit uses it without a copy) when that fits
``memory_limit``, or streamed from the store block by block (:mod:`dlcli.data.streams`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.arrays import open_arrays
from dlcli.data.batches import ArrayBatchSource, BatchSource
from dlcli.data.cache import cached_table
from dlcli.data.columns import ColumnStore, blocks
from dlcli.data.encode import Encoder
from dlcli.data.fit import fit_schema_and_quality, fit_target
from dlcli.data.formats import is_table, require_file
from dlcli.data.quality import DataQuality
from dlcli.data.schema import Schema, label_keys
from dlcli.data.sources import file_sha256
from dlcli.data.splits import train_val_indices
from dlcli.data.streams import BLOCK_BYTES, StreamBatchSource
from dlcli.errors import DataError


@dataclass
class TrainingData:
    """What training reads: batch sources over the training, validation and all rows."""

    train: BatchSource
    val: BatchSource | None
    # Training + validation rows, for the refit: made when asked, so an out-of-core run does
    # not hold an index and targets for every row while it trains.
    all_rows: Callable[[], BatchSource]
    schema: Schema
    source: str
    sha256: str
    in_memory: bool
    # Missing cells and ID-like columns among the training rows (None: the schema was given).
    quality: DataQuality | None = None

    @property
    def everything(self) -> BatchSource:
        return self.all_rows()

    @property
    def n_train(self) -> int:
        return self.train.n_rows

    @property
    def n_val(self) -> int:
        return 0 if self.val is None else self.val.n_rows


def open_store(
    path: str | Path,
    target: str,
    *,
    sha256: str,
    cache_dir: Path,
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    delimiter: str = ",",
    dtype: str = "float32",
) -> ColumnStore:
    """A labelled dataset as a store: tables through the cache, arrays as they are."""
    require_file(path)
    if is_table(path):
        if not target:
            raise DataError("No target column given.", hint="Pass --target COLUMN or set [data] target in dlcli.toml.")
        return cached_table(
            path, sha256, cache_dir, target=target, features=features, ignore=ignore, delimiter=delimiter, dtype=dtype
        )
    return open_arrays(path, need_y=True, sha256=sha256)


def prepare_training_data(
    path: str | Path,
    target: str,
    *,
    task: str,
    val_split: float,
    rng: np.random.Generator,
    cache_dir: Path,
    memory_limit: int,
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    delimiter: str = ",",
    dtype: str = "float32",
    schema: Schema | None = None,
) -> TrainingData:
    """Read ``path``, split off ``val_split`` of the rows (stratified for classes), fit, serve.

    ``schema``: one already fitted on the same data and split (by :func:`fit_training_schema`
    on another rank of a data-parallel job) is used as it is, so every rank encodes alike.
    """
    require_file(path)
    sha256 = file_sha256(path)
    store = open_store(
        path,
        target,
        sha256=sha256,
        cache_dir=cache_dir,
        features=features,
        ignore=ignore,
        delimiter=delimiter,
        dtype=dtype,
    )
    raw_target = store.target()
    assert raw_target is not None  # opened with a target
    train_idx, val_idx, fitted, quality = _fit(store, raw_target, task, val_split, rng, schema)
    schema = fitted
    y = schema.encode_target(raw_target, store.source)
    encoder = Encoder(schema, dtype, store.dictionaries)
    matrix_bytes = store.n_rows * encoder.width * encoder.dtype.itemsize
    if matrix_bytes <= memory_limit:
        X = encode_rows(store, encoder, np.concatenate([train_idx, val_idx]))
        n = len(train_idx)
        train: BatchSource = ArrayBatchSource(X[:n], y[train_idx])
        val: BatchSource | None = ArrayBatchSource(X[n:], y[val_idx]) if len(val_idx) else None
        whole = ArrayBatchSource(X, np.concatenate([y[train_idx], y[val_idx]]))

        def all_rows() -> BatchSource:
            return whole
    else:
        block_bytes = _block_bytes(memory_limit)
        train = StreamBatchSource(store, encoder, train_idx, y[train_idx], block_bytes=block_bytes)
        val = StreamBatchSource(store, encoder, val_idx, y[val_idx], block_bytes=block_bytes) if len(val_idx) else None
        del y  # re-encoded for the refit: the sources above hold their own rows' targets

        def all_rows() -> BatchSource:
            every = np.arange(store.n_rows)
            return StreamBatchSource(
                store, encoder, every, schema.encode_target(raw_target, store.source), block_bytes=block_bytes
            )

    return TrainingData(train, val, all_rows, schema, str(path), sha256, matrix_bytes <= memory_limit, quality)


def fit_training_schema(
    path: str | Path, target: str, *, task: str, val_split: float, rng: np.random.Generator, **reading: Any
) -> Schema:
    """The schema :func:`prepare_training_data` would fit with the same arguments (and an
    identically seeded ``rng``), without encoding anything. ``reading``: :func:`open_store`'s
    keywords (``cache_dir``, ``features``, ``ignore``, ``delimiter``, ``dtype``)."""
    store = open_store(path, target, sha256=file_sha256(path), **reading)
    raw_target = store.target()
    assert raw_target is not None
    return _fit(store, raw_target, task, val_split, rng, None)[2]


def _fit(
    store: ColumnStore, raw_target: Any, task: str, val_split: float, rng: np.random.Generator, schema: Schema | None
) -> tuple[np.ndarray, np.ndarray, Schema, DataQuality | None]:
    """The split, and the schema fitted on its training rows (unless one is given), with what
    the fit counted."""
    probe = schema or fit_target(raw_target, store.source, task)  # the task and classes from all rows
    train_idx, val_idx = _split(store.n_rows, raw_target, probe, val_split, rng)
    quality = None
    if schema is None:
        schema, quality = fit_schema_and_quality(store, raw_target, train_idx, task=probe.task, classes=probe.classes)
    return train_idx, val_idx, schema, quality


def _block_bytes(memory_limit: int) -> int:
    # Blocks in flight: the one being trained on, its shuffled copy, two prefetched, one read.
    return int(max(1 << 20, min(BLOCK_BYTES, memory_limit // 8)))


def encode_rows(store: ColumnStore, encoder: Encoder, order: np.ndarray) -> np.ndarray:
    """The encoded rows ``order`` of ``store`` in that order, as one matrix (one block at a time)."""
    destination = np.full(store.n_rows, -1, np.int64)
    destination[order] = np.arange(len(order))
    X = np.empty((len(order), encoder.width), dtype=encoder.dtype)
    for block in blocks(store):
        where = destination[block.start : block.start + len(block)]
        keep = where >= 0
        if not keep.any():
            continue
        part = block if keep.all() else block.take(np.flatnonzero(keep))
        X[where[keep]] = encoder.encode(part)
    return X


MOMENT_BYTES = 8 << 20  # float64 rows per moments chunk: the pass holds a few of these


def input_moments(source: BatchSource) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and variance of the encoded inputs (for the Normalization layer), streamed."""
    from dlcli.nn.normalization import moments

    rows = max(256, MOMENT_BYTES // max(1, source.n_features * 8))
    return moments(X for X, _ in source.chunks(rows))


def _split(
    n: int, target: Any, schema: Schema, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation parts (stratified for classes), sorted."""
    if fraction > 0 and (round(n * fraction) < 1 or n - round(n * fraction) < 1):
        raise DataError(
            f"Cannot hold out {fraction:g} of {n} rows for validation.",
            hint="Use more data, or --val-split 0 to train without a validation set.",
        )
    keys = label_keys(target)[1] if schema.is_classification else np.zeros(n, np.int8)
    train, val = train_val_indices(keys, fraction, rng, stratify=schema.is_classification)
    index = np.int32 if n < 2**31 else np.int64  # half the memory of int64 per row, where it fits
    return np.sort(train).astype(index), np.sort(val).astype(index)
