"""Streaming model inputs (``predict``) and labelled chunks (``eval``) through a fitted schema.

Tables are read in pyarrow record batches of the model's columns only; arrays by row range.
Memory is one chunk, whatever the file size; stdin (``-``) is CSV.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.arrays import open_arrays
from dlcli.data.columns import Block, Target, blocks, require_column
from dlcli.data.encode import Encoder, arrow_block, feature_types
from dlcli.data.formats import data_format, is_table
from dlcli.data.quality import InputTally
from dlcli.data.schema import Schema
from dlcli.data.tables import TableReader, TypeConflict
from dlcli.data.values import arrow_kind, codes_column, numeric_column, parse_strings, string_column
from dlcli.errors import DataError, setting


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_inputs(
    path: str | Path,
    schema: Schema,
    *,
    chunk_rows: int = 65536,
    delimiter: str = ",",
    dtype: str = "float32",
    parallel: bool = False,
    tally: InputTally | None = None,
) -> Iterator[np.ndarray]:
    """Encoded model inputs in chunks of at most ``chunk_rows`` rows (``-`` is stdin).

    ``parallel`` parses a CSV file's blocks on every core; it raises
    :class:`~dlcli.data.tables.SplitFailed` (before or after yielding) when a quoted value
    spans lines, and the caller starts again without it. ``tally`` counts the missing cells
    and unseen categories met.
    """
    for X, _, _ in _chunks(path, schema, False, chunk_rows, delimiter, dtype, parallel, tally):
        yield X


def iter_inputs_kept(
    path: str | Path,
    schema: Schema,
    keep: Sequence[str],
    *,
    chunk_rows: int = 65536,
    delimiter: str = ",",
    dtype: str = "float32",
    parallel: bool = False,
    tally: InputTally | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`iter_inputs`, each chunk with the ``keep`` columns' cells as they are written
    (text; missing: ``None``), an object array ``(n, len(keep))``: IDs to join predictions on."""
    if str(path) != "-" and not is_table(path):
        raise DataError(f"{path} is an array file: it has no named columns for {setting('keep')} to pass through.")
    for X, _, kept in _chunks(path, schema, False, chunk_rows, delimiter, dtype, parallel, tally, keep):
        assert kept is not None
        yield X, kept


def iter_labelled(
    path: str | Path,
    schema: Schema,
    *,
    chunk_rows: int = 65536,
    delimiter: str = ",",
    dtype: str = "float32",
    parallel: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encoded inputs and encoded targets (class indices or scaled values), chunk by chunk."""
    for X, y, _ in _chunks(path, schema, True, chunk_rows, delimiter, dtype, parallel):
        assert y is not None
        yield X, y


def can_parallelize(path: str | Path) -> bool:
    """Whether ``path`` is a CSV file whose blocks :func:`iter_inputs` can parse in parallel."""
    return str(path) != "-" and data_format(path) == "csv"


def _chunks(
    path: str | Path,
    schema: Schema,
    labelled: bool,
    chunk_rows: int,
    delimiter: str,
    dtype: str,
    parallel: bool,
    tally: InputTally | None = None,
    keep: Sequence[str] = (),
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    encoder = Encoder(schema, dtype)
    if str(path) != "-" and not is_table(path):
        store = open_arrays(path, need_y=labelled)
        try:
            target = store.target() if labelled else None
            for block in blocks(store, chunk_rows):
                X = encoder.encode_matrix(block.numeric, store.source)  # checks the shape first
                if tally is not None:
                    tally.rows += len(X)
                    tally.add_missing([f.name for f in schema.features], block.numeric.reshape(len(X), -1))
                y = None
                if target is not None:
                    part = Target(target.name, target.values[block.start : block.start + len(X)], target.dictionary)
                    y = schema.encode_target(part, store.source)
                yield X, y, None
        finally:
            store.close()
        return
    for block, y, kept in _table_chunks(path, schema, labelled, chunk_rows, delimiter, parallel, tally, keep):
        yield encoder.encode(block), y, kept


def table_blocks(
    path: str | Path,
    schema: Schema,
    labelled: bool,
    chunk_rows: int,
    delimiter: str = ",",
    parallel: bool = False,
    tally: InputTally | None = None,
) -> Iterator[tuple[Block, np.ndarray | None]]:
    """A table's rows as blocks of the schema's columns (codes index its categories), with the
    encoded targets when ``labelled``: what :func:`iter_inputs` encodes, and what a
    data-parallel ``predict``/``eval`` stores once for the ranks to read by row range."""
    for block, y, _ in _table_chunks(path, schema, labelled, chunk_rows, delimiter, parallel, tally):
        yield block, y


def _table_chunks(
    path: str | Path,
    schema: Schema,
    labelled: bool,
    chunk_rows: int,
    delimiter: str = ",",
    parallel: bool = False,
    tally: InputTally | None = None,
    keep: Sequence[str] = (),
) -> Iterator[tuple[Block, np.ndarray | None, np.ndarray | None]]:
    reader = TableReader(path, delimiter)
    types = feature_types(schema, reader.names, reader.source)
    for name in keep:
        require_column(reader.names, name, f"given with {setting('keep')}", reader.source)
        types.setdefault(name, "string")  # as written: an ID "00123" keeps its zeros
    columns = list(types)
    if labelled:
        if schema.target not in reader.names:
            raise DataError(
                f"Column '{schema.target}' (the model's target) is not in {reader.source}.",
                hint="Evaluation needs labelled data; use 'dlcli predict' for unlabelled data.",
            )
        if schema.target not in columns:
            columns.append(schema.target)
    offset = 0
    try:
        for batch in reader.batches(columns, types, rows=chunk_rows, parallel=parallel and can_parallelize(path)):
            block = arrow_block(batch, schema, reader, offset, tally)
            y = (
                schema.encode_target(arrow_target(batch.column(schema.target), schema.target), reader.source)
                if labelled
                else None
            )
            offset += batch.num_rows
            yield block, y, _kept(batch, keep) if keep else None
    except TypeConflict as conflict:
        raise _not_numeric(reader, conflict.column, reader.delimiter) from None


def _kept(batch: Any, keep: Sequence[str]) -> np.ndarray:
    """The ``keep`` columns of a record batch as an object array of Python values."""
    kept = np.empty((batch.num_rows, len(keep)), dtype=object)
    for j, name in enumerate(keep):
        # A kept column the model also reads as a number was parsed as one (one read, one
        # type per column): whole numbers go back out as 17, not 17.0 (but "00017" as 17).
        kept[:, j] = [_whole(v) for v in batch.column(name).to_pylist()]
    return kept


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def arrow_target(array: Any, name: str) -> Target:
    """A target column of a record batch: numbers, or codes into its distinct strings."""
    import pyarrow.compute as pc

    if arrow_kind(array) == "numeric":
        return Target(name, numeric_column(array))
    text = string_column(array)
    values, _ = parse_strings(text)
    if values is not None:
        return Target(name, values)
    encoded = pc.dictionary_encode(text)
    codes = codes_column(encoded.indices)
    return Target(name, codes, [str(v) for v in encoded.dictionary.to_pylist()])


def _not_numeric(reader: TableReader, column: str, delimiter: str) -> DataError:
    """The line and value of the first cell of ``column`` that is not a number."""
    if not reader.stdin:
        from dlcli.data.csvtable import first_non_numeric, iter_csv, open_text

        with open_text(reader.path) as handle:
            for table in iter_csv(handle, reader.source, delimiter, chunk_rows=65536):
                values = table.columns[column]
                bad = first_non_numeric(values)
                if bad >= 0:
                    return DataError(
                        f"{reader.source}, line {table.first_line + bad}: column '{column}' must be numeric, "
                        f"found '{values[bad]}'.",
                        hint="Fix the value, or retrain if the column is categorical.",
                    )
    return DataError(
        f"{reader.source}: column '{column}' must be numeric but has a value that is not a number.",
        hint="Fix the value, or retrain if the column is categorical.",
    )


def stdin_is_pipe() -> bool:
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


__all__ = [
    "arrow_target",
    "can_parallelize",
    "file_sha256",
    "iter_inputs",
    "iter_inputs_kept",
    "iter_labelled",
    "stdin_is_pipe",
    "table_blocks",
]
