"""Model inputs read by row range: what each rank of a data-parallel ``predict``/``eval`` reads.

A table (CSV, Parquet, Feather) can only be read from its start, so under ``mpiexec`` the
first rank on each machine reads it once, through the very path a single-process run takes
(:func:`dlcli.data.sources.table_blocks`: the model's columns only, the types the schema
expects, its checks and messages), into an HDF5 file: numeric columns in the model dtype,
categorical columns as int32 codes into the schema's categories, and for ``eval`` the
encoded target. Every rank then reads its own rows of that file, a chunk at a time, and
encodes them as a single process would: the inputs are the same, bit for bit.

NPY, NPZ and HDF5 inputs are row-addressable already (:func:`dlcli.data.arrays.open_arrays`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dlcli.data.arrays import open_arrays
from dlcli.data.columns import ArrayStore, Block, Target
from dlcli.data.encode import Encoder
from dlcli.data.schema import Schema
from dlcli.data.sources import table_blocks
from dlcli.data.tables import SplitFailed

CHUNK_BYTES = 1 << 20  # HDF5 chunk of the row file: a MiB of rows
Encoded = tuple[np.ndarray, np.ndarray | None]


class RowSource(Protocol):
    """Encoded inputs (and encoded targets, when labelled) of any row range."""

    n_rows: int

    def encoded(self, start: int, stop: int, rows: int) -> Iterator[Encoded]: ...

    def close(self) -> None: ...


def build_row_file(
    data: str | Path, schema: Schema, dest: Path, *, labelled: bool, chunk_rows: int, dtype: str, parallel: bool = True
) -> int:
    """Read table ``data`` once into the row file ``dest``; returns its rows.

    ``parallel`` parses CSV blocks on every core; a quoted value spanning lines makes it
    start again serially (as a single-process run does).
    """
    try:
        return _build(data, schema, dest, labelled, chunk_rows, dtype, parallel)
    except SplitFailed:
        return _build(data, schema, dest, labelled, chunk_rows, dtype, False)


def _build(data: str | Path, schema: Schema, dest: Path, labelled: bool, rows: int, dtype: str, parallel: bool) -> int:
    import h5py

    numeric_names, code_names = _column_names(schema)
    row_bytes = max(1, len(numeric_names) * np.dtype(dtype).itemsize + len(code_names) * 4)
    chunk = max(256, CHUNK_BYTES // row_bytes)
    with h5py.File(dest, "w", rdcc_nbytes=4 * CHUNK_BYTES) as out:
        sets: dict[str, Any] = {}
        for name, width, kind in (("numeric", len(numeric_names), dtype), ("codes", len(code_names), np.int32)):
            if width:  # a dataset without columns cannot be chunked: left out, read as empty
                sets[name] = out.create_dataset(
                    name, (0, width), maxshape=(None, width), dtype=kind, chunks=(chunk, width)
                )
        n = 0
        for block, y in table_blocks(data, schema, labelled, rows, parallel=parallel):
            m = len(block)
            parts = {"numeric": block.numeric.astype(dtype, copy=False), "codes": block.codes}
            if y is not None:
                if "target" not in sets:
                    tail = y.shape[1:]
                    sets["target"] = out.create_dataset(
                        "target", (0, *tail), maxshape=(None, *tail), dtype=y.dtype, chunks=(chunk, *tail)
                    )
                parts["target"] = y
            for name, dataset in sets.items():
                dataset.resize(n + m, axis=0)
                dataset[n : n + m] = parts[name]
            n += m
        out.attrs["rows"] = n
    return n


def _column_names(schema: Schema) -> tuple[list[str], list[str]]:
    """The schema's numeric and categorical feature names: the row file's two datasets' columns."""
    numeric = [f.name for f in schema.features if f.kind == "numeric"]
    return numeric, [f.name for f in schema.features if f.kind != "numeric"]


class RowFile:
    """A row file made by :func:`build_row_file`, encoded through the model's schema."""

    def __init__(self, path: Path, schema: Schema, dtype: str) -> None:
        import h5py

        self._file = h5py.File(path, "r", rdcc_nbytes=4 * CHUNK_BYTES)
        self.n_rows = int(self._file.attrs["rows"])
        self._numeric_names, self._code_names = _column_names(schema)
        self._encoder = Encoder(schema, dtype)

    def encoded(self, start: int, stop: int, rows: int) -> Iterator[Encoded]:
        numeric, codes, target = (self._file.get(name) for name in ("numeric", "codes", "target"))
        for a in range(start, stop, rows):
            b = min(stop, a + rows)
            block = Block(
                a,
                numeric[a:b] if numeric is not None else np.empty((b - a, 0)),
                self._numeric_names,
                codes[a:b] if codes is not None else np.empty((b - a, 0), np.int32),
                self._code_names,
            )
            yield self._encoder.encode(block), None if target is None else target[a:b]

    def close(self) -> None:
        self._file.close()


class ArrayRows:
    """NPY, NPZ or HDF5 arrays by row range, encoded as :func:`dlcli.data.sources.iter_inputs` does."""

    def __init__(self, path: str | Path, schema: Schema, dtype: str, *, labelled: bool) -> None:
        self._store: ArrayStore = open_arrays(path, need_y=labelled)
        self._schema = schema
        self._target = self._store.target() if labelled else None
        self._encoder = Encoder(schema, dtype)
        self.n_rows = self._store.n_rows

    def encoded(self, start: int, stop: int, rows: int) -> Iterator[Encoded]:
        store, target = self._store, self._target
        for a in range(start, stop, rows):
            block = store.read(a, min(stop, a + rows))
            X = self._encoder.encode_matrix(block.numeric, store.source)
            y = None
            if target is not None:
                part = Target(target.name, target.values[a : a + len(X)], target.dictionary)
                y = self._schema.encode_target(part, store.source)
            yield X, y

    def close(self) -> None:
        self._store.close()


def row_range(n_rows: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous share of ``n_rows`` rows (``numpy.array_split``'s)."""
    q, r = divmod(n_rows, size)
    start = rank * q + min(rank, r)
    return start, start + q + (1 if rank < r else 0)
