"""Columnar reading of CSV, Parquet and Arrow/Feather tables with pyarrow, in record batches.

pyarrow parses in C++ with threads and no Python object per cell, which is what makes a
million-row table load in about a second. Every command reads a table through
:class:`TableReader` and turns its columns into NumPy with :mod:`dlcli.data.values`, so
training and prediction see the same values.

pyarrow's messages name neither the line nor the file, so when the fast path fails on a CSV
file, :func:`diagnose_csv` re-reads it with the line-counting reader of
:mod:`dlcli.data.csvtable` to say exactly which line is wrong.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dlcli.data.csvtable import MISSING, csv_line_of_row, diagnose_csv, sniff_delimiter, validate_header
from dlcli.data.formats import data_format, require_file
from dlcli.data.values import arrow_kind, numeric_column
from dlcli.errors import DataError

# pyarrow matches null tokens case-sensitively, so list the spellings people write.
NULL_VALUES = sorted({form for token in MISSING for form in (token, token.lower(), token.upper(), token.title())})
CSV_BLOCK_BYTES = 1 << 20  # a record batch per MiB of text: larger blocks cost memory and, streamed, speed
PARALLEL_BLOCK_BYTES = 4 << 20
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+)")
_WIDER = {"null": "float64", "int64": "float64", "bool": "float64"}  # else: string


class SplitFailed(Exception):
    """A CSV file could not be parsed in newline-split blocks (a quoted value spans lines)."""


class TypeConflict(Exception):
    """A CSV column's type, inferred from the first block, does not fit a later block."""

    def __init__(self, column: str, wider: str) -> None:
        super().__init__(column, wider)
        self.column, self.wider = column, wider


def _pa() -> Any:
    import pyarrow

    return pyarrow


class TableReader:
    """A CSV, Parquet or Feather file (or ``-``, CSV on stdin) read in record batches.

    ``names`` are the validated column names (stripped); ``num_rows`` is known up front for
    Parquet and Feather, ``None`` for CSV. With the default delimiter, a CSV file whose
    header line has no comma but a ``;``, tab or ``|`` is read with that one
    (:func:`~dlcli.data.csvtable.sniff_delimiter`); ``delimiter`` is the one in use.
    """

    def __init__(self, path: str | Path, delimiter: str = ",") -> None:
        self.path, self.delimiter = path, delimiter
        self.stdin = str(path) == "-"
        self.source = "<stdin>" if self.stdin else str(path)
        self.format = "csv" if self.stdin else data_format(path)
        if not self.stdin:
            require_file(path)
            if self.format == "csv" and delimiter == ",":
                self.delimiter = sniff_delimiter(path) or delimiter
        self.num_rows: int | None = None
        self._opened: Any = None
        raw = self._open_names()
        self.names = validate_header(raw, self.source)
        self._raw = dict(zip(self.names, raw, strict=True))

    # ---- opening ----------------------------------------------------------------------

    def _open_names(self) -> list[str]:
        pa = _pa()
        if self.format == "parquet":
            import pyarrow.parquet as pq

            try:
                # Buffered reads, not whole column chunks: a row group of 1M rows cost 266 MB
                # of peak memory read whole and 162 MB buffered (and ran faster).
                self._opened = pq.ParquetFile(str(self.path), pre_buffer=False, buffer_size=1 << 20)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"'{self.source}' is not a readable Parquet file ({exc}).") from None
            self.num_rows = int(self._opened.metadata.num_rows)
            return list(self._opened.schema_arrow.names)
        if self.format == "feather":
            try:
                self._opened = pa.ipc.open_file(pa.memory_map(str(self.path)))
            except (pa.ArrowException, OSError) as exc:
                raise DataError(
                    f"'{self.source}' is not a readable Arrow/Feather v2 file ({exc}).",
                    hint="Write it with pyarrow.feather.write_feather or pandas.DataFrame.to_feather.",
                ) from None
            self.num_rows = sum(self._opened.get_batch(i).num_rows for i in range(self._opened.num_record_batches))
            return list(self._opened.schema.names)
        self._opened = self._csv_reader(None, {})
        self._schema = self._opened.schema
        try:
            return list(self._schema.names)
        except UnicodeDecodeError:
            raise DataError(f"'{self.source}' is not UTF-8 text.", hint="Is it a CSV file? Save it as UTF-8.") from None

    def _csv_reader(self, columns: list[str] | None, types: dict[str, str]) -> Any:
        pa = _pa()
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(
            null_values=NULL_VALUES,
            strings_can_be_null=True,
            true_values=[],  # "true"/"false" stay text, as a category
            false_values=[],
            include_columns=columns,
            column_types={name: getattr(pa, kind)() for name, kind in types.items()},
        )
        handle: Any = sys.stdin.buffer if self.stdin else str(self.path)
        try:
            return pcsv.open_csv(
                handle,
                read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise DataError(f"'{self.source}' is empty: expected a header line and rows.") from None
            raise self._translated(exc, columns) from None

    # ---- reading ----------------------------------------------------------------------

    def inferred_types(self) -> dict[str, str]:
        """CSV column types as inferred from the first block: ``float64`` for every numeric
        column (ints too: one type, and exact up to 2**53) and ``string`` for the rest.

        Passing them back to :meth:`batches` skips pyarrow's per-block inference, which is
        about half of its parse time on numeric tables.
        """
        kinds = {name: arrow_kind(self._schema.field(self._raw[name])) for name in self.names}
        return {n: "float64" if k == "numeric" else "string" for n, k in kinds.items() if k != "binary"}

    def batches(
        self,
        columns: list[str] | None = None,
        types: dict[str, str] | None = None,
        rows: int = 65536,
        *,
        parallel: bool = False,
    ) -> Iterator[Any]:
        """Record batches of ``columns`` (default all), renamed to the stripped names.

        ``types`` forces CSV column types (``"float64"``, ``"string"``); Parquet and Feather
        columns keep their stored types. A CSV column inferred from the first block that does
        not fit a later one raises :class:`TypeConflict` (the caller re-reads with it forced).
        ``parallel`` parses a CSV file's blocks on every core (:meth:`_parallel_csv`); a caller
        that asks for it re-reads serially when it raises :class:`SplitFailed`.
        """
        pa = _pa()
        names = columns or self.names
        raw = [self._raw[n] for n in names]
        if self.format == "parquet":
            batches: Iterator[Any] = self._opened.iter_batches(batch_size=rows, columns=raw)
        elif self.format == "feather":
            batches = (
                batch.select(raw).slice(start, rows)
                for i in range(self._opened.num_record_batches)
                for batch in [self._opened.get_batch(i)]
                for start in range(0, batch.num_rows, rows)
            )
        else:
            # A CSV stream is read once: the next call reopens the file. stdin cannot be reopened,
            # so its first reader serves, with the columns picked from each batch (and types as
            # inferred: the callers parse text where they expect numbers).
            reader, self._opened = self._opened, None
            if self.stdin:
                if reader is None:
                    raise DataError("stdin can be read only once.")
                batches = (batch.select(raw) for batch in reader)
            elif parallel:
                batches = self._parallel_csv(raw, {self._raw[n]: t for n, t in (types or {}).items()})
            else:
                if reader is None or columns is not None or types:
                    reader = self._csv_reader(raw, {self._raw[n]: t for n, t in (types or {}).items()})
                batches = iter(reader)
        try:
            for batch in batches:
                yield pa.RecordBatch.from_arrays(batch.columns, names=names)
        except pa.ArrowInvalid as exc:
            raise self._translated(exc, names) from None

    def _parallel_csv(self, raw: list[str], types: dict[str, str]) -> Iterator[Any]:
        """Parse newline-aligned blocks of the file in a thread pool, yielding them in order.

        pyarrow's streaming reader parses one block at a time on one core; its whole-file
        reader uses every core but holds the table. Splitting the bytes at newlines (what
        pyarrow's own parallel chunker does, which is why it assumes no newline inside a
        quoted value) and parsing :data:`PARALLEL_BLOCK_BYTES` blocks on ``cpu_count``
        threads gets the whole-file reader's speed in bounded memory. A quoted newline makes
        a block unparsable: :class:`SplitFailed` tells the caller to read serially.
        """
        import os
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        pa = _pa()
        import pyarrow.csv as pcsv

        read = pcsv.ReadOptions(column_names=[self._raw[n] for n in self.names], use_threads=False)
        parse = pcsv.ParseOptions(delimiter=self.delimiter)
        convert = pcsv.ConvertOptions(
            null_values=NULL_VALUES,
            strings_can_be_null=True,
            true_values=[],
            false_values=[],
            include_columns=raw,
            column_types={name: getattr(pa, kind)() for name, kind in types.items()},
        )

        def parse_block(data: memoryview) -> Any:
            if len(data) < 1024 and not bytes(data).strip():
                return pa.table({n: pa.array([], pa.string()) for n in raw}).slice(0, 0)
            try:
                return pcsv.read_csv(
                    pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert
                )
            except pa.ArrowInvalid as exc:
                if _CONVERSION.search(str(exc)):
                    raise
                raise SplitFailed(str(exc)) from None

        workers = max(1, min(8, os.cpu_count() or 1))
        with open(self.path, "rb") as handle, ThreadPoolExecutor(workers, thread_name_prefix="dlcli-csv") as pool:
            pending: deque[Any] = deque()
            for block in _line_blocks(handle, PARALLEL_BLOCK_BYTES):
                pending.append(pool.submit(parse_block, block))
                if len(pending) > workers:
                    yield from pending.popleft().result().to_batches()
            while pending:
                yield from pending.popleft().result().to_batches()

    def _translated(self, exc: Exception, names: list[str] | None) -> Exception:
        """A type conflict (``In CSV column #i: conversion error``) or the diagnosed failure."""
        match = _CONVERSION.search(str(exc))
        if match and self.format == "csv":
            read = names if names is not None else getattr(self, "names", None)
            if read is not None and int(match.group(1)) < len(read):
                name = read[int(match.group(1))]
                return TypeConflict(self._stripped(name), _WIDER.get(match.group(2), "string"))
        return self.failure(exc)

    def _stripped(self, name: str) -> str:
        raw = getattr(self, "_raw", {})
        return next((k for k, v in raw.items() if v == name), name)

    def failure(self, exc: Exception) -> DataError:
        """The error for a file pyarrow could not parse: the exact line when we can find it."""
        if self.format == "csv" and not self.stdin:
            diagnose_csv(self.path, self.delimiter)
        return DataError(f"'{self.source}' cannot be read as {self.format.upper()}: {exc}.")

    def line_of(self, row: int) -> str:
        """Where data row ``row`` (0-based, blank lines not counted) is, for messages."""
        if self.format == "csv" and not self.stdin:
            return f"line {csv_line_of_row(self.path, self.delimiter, row)}"
        return f"data row {row + 1}"


def _line_blocks(handle: Any, size: int) -> Iterator[memoryview]:
    """The file after its header line, in blocks of about ``size`` bytes ending at a newline.

    One copy per block (the read); the block handed out is a view, parsed in place.
    """
    handle.readline()  # the header: already parsed
    carry = b""
    while True:
        data = handle.read(size)
        if not data:
            break
        block = carry + data if carry else data
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            carry = block
            continue
        carry = block[cut:]
        yield memoryview(block)[:cut]
    if carry.strip():
        yield memoryview(carry)


def read_matrix(path: str | Path, *, delimiter: str = ",", dtype: str = "float32") -> np.ndarray:
    """Every numeric column of a table as one ``(n_rows, k)`` matrix (NaN where missing).

    The library's fastest path from a CSV/Parquet/Feather file to NumPy: typed columns
    (after inference on the first block), blocks parsed in parallel, no Python object per
    cell. Text columns are left out.
    """
    reader = TableReader(path, delimiter)
    return read_settled(reader, lambda types, parallel: _matrix(reader, types, parallel, np.dtype(dtype)))


Result = TypeVar("Result")


def read_settled(
    reader: TableReader, run: Callable[[dict[str, str], bool], Result], columns: Iterable[str] | None = None
) -> Result:
    """``run(types, parallel)``, a whole pass over ``reader``, retried until the types fit.

    A CSV file starts with the types inferred from its first block (``columns``' only) and
    its blocks parsed in parallel. A :class:`TypeConflict` widens that column and starts
    again; :class:`SplitFailed` (a quoted value spans lines) goes serial. Each retry changes
    one thing, so there are at most a few per column.
    """
    csv = reader.format == "csv" and not reader.stdin
    wanted = None if columns is None else set(columns)
    types = {n: t for n, t in reader.inferred_types().items() if wanted is None or n in wanted} if csv else {}
    parallel = csv
    for _ in range(2 * len(reader.names) + 3):
        try:
            return run(types, parallel)
        except TypeConflict as conflict:
            types[conflict.column] = conflict.wider
        except SplitFailed:
            parallel = False
    raise DataError(f"'{reader.source}': column types could not be settled.")  # pragma: no cover


def _matrix(reader: TableReader, types: dict[str, str], parallel: bool, dtype: np.dtype[Any]) -> np.ndarray:
    parts: list[np.ndarray] = []
    numeric: list[str] | None = [n for n, t in types.items() if t == "float64"] if types else None
    # Parse straight into the output dtype: no float64 pass over the values.
    wanted = {n: str(dtype) for n in numeric or []}
    for batch in reader.batches(numeric, wanted, parallel=parallel):
        if numeric is None:
            numeric = [n for n in reader.names if arrow_kind(batch.column(n)) == "numeric"]
        block = np.empty((batch.num_rows, len(numeric)), dtype)
        for j, name in enumerate(numeric):
            block[:, j] = numeric_column(batch.column(name))
        parts.append(block)
    return np.concatenate(parts) if parts else np.empty((0, len(numeric or [])), dtype)
