"""The table cache: a CSV/Parquet/Feather file parsed once into a chunked binary HDF5 file.

The first read of a table streams it through pyarrow into ``<cache>/tables/<stem>-<key>.h5``:
numeric columns as one ``(n, k)`` float matrix in the model dtype, categorical columns as
``(n, c)`` int32 codes with one dictionary per column, and the target column (float64, or
codes). ``key`` hashes the file's SHA-256 with the options that change the content (columns,
target, delimiter, dtype, format version), so a changed file or option is a new entry and a
stale entry is never read. Later runs, epochs and processes read blocks of rows from it.

The entry is written under a temporary name and renamed when complete (``dlcli.files``), so
a killed build leaves no entry; its temporary file is swept by the next build
(:func:`dlcli.files.sweep_temporary`: at once when its process is gone, else once stale),
or by ``dlcli cache clear``.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.columns import CATEGORICAL, NUMERIC, Block, Target, select_columns
from dlcli.data.tables import TableReader, read_settled
from dlcli.data.values import arrow_kind, codes_column, numeric_column, parse_strings, string_array, string_column
from dlcli.errors import DataError
from dlcli.files import atomic_path, sweep_temporary

CACHE_VERSION = 1
CHUNK_BYTES = 4 << 20  # HDF5 chunk: a few MiB of rows, read whole by a block
BLOCK_CHUNKS = 4  # chunks per block a reader asks for


def tables_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "tables"


def cached_table(
    path: str | Path,
    sha256: str,
    cache_dir: Path,
    *,
    target: str,
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    delimiter: str = ",",
    dtype: str = "float32",
) -> CachedTable:
    """The cache entry for this table and these options, built first if missing."""
    reader = TableReader(path, delimiter)
    columns = select_columns(reader.names, reader.source, target, features, ignore)
    options = {"v": CACHE_VERSION, "columns": columns, "target": target, "delimiter": delimiter, "dtype": dtype}
    key = hashlib.sha256(json.dumps([sha256, options], sort_keys=True).encode()).hexdigest()[:24]
    final = tables_dir(cache_dir) / f"{Path(str(path)).stem[:60]}-{key}.h5"
    if final.is_file():
        try:
            return CachedTable(final)
        except (OSError, KeyError, ValueError):
            final.unlink(missing_ok=True)  # unreadable (another version's layout): rebuild
    sweep_temporary(final.parent)

    def build(types: dict[str, str], parallel: bool) -> None:
        with atomic_path(final) as temp:
            _build(reader, columns, target, types, temp, sha256, dtype, parallel=parallel)

    read_settled(reader, build, [*columns, target])
    import pyarrow as pa

    # pyarrow's allocator keeps freed blocks for reuse; hand them back before training
    # allocates its matrix, or they count twice in the process's peak memory.
    pa.default_memory_pool().release_unused()
    return CachedTable(final)


FLOAT64_MAX = float(np.finfo(np.float64).max)


class _NulCell(Exception):
    def __init__(self, value: str) -> None:
        self.value = value


class _Dictionary:
    """Global codes for one categorical column, assigned in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def codes(self, text: Any) -> np.ndarray:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(text)
        remap = np.empty(len(encoded.dictionary) + 1, np.int32)
        for i, value in enumerate(encoded.dictionary.to_pylist()):
            code = self.index.get(value)
            if code is None:
                if "\x00" in value:  # HDF5 strings cannot hold NUL, and no real category has one
                    raise _NulCell(value)
                code = self.index[value] = len(self.values)
                self.values.append(value)
            remap[i] = code
        remap[-1] = -1  # missing cells (null indices filled with -1 below) stay -1
        local = codes_column(encoded.indices)
        codes: np.ndarray = remap[local]
        return codes


def sample_table(reader: TableReader, columns: list[str], target: str, max_rows: int) -> CachedTable:
    """The first ``max_rows`` rows of a table as an in-memory store (``init`` fits a sample)."""
    import h5py

    def build(types: dict[str, str], parallel: bool) -> CachedTable:
        out = h5py.File(f"sample-{id(reader)}", "w", driver="core", backing_store=False)
        try:
            _build(reader, columns, target, types, out, "", "float64", max_rows, parallel=parallel)
        except BaseException:
            out.close()
            raise
        return CachedTable(out)

    return read_settled(reader, build, [*columns, target])


def _build(
    reader: TableReader,
    columns: list[str],
    target: str,
    types: dict[str, str],
    temp: Path | Any,
    sha256: str,
    dtype: str,
    max_rows: int | None = None,
    *,
    parallel: bool = False,
) -> None:
    import h5py

    # A chunk cache that holds the chunks being filled (one per dataset, twice over): batches
    # are smaller than a chunk, and without it each partial write reads the chunk back.
    cache_bytes = 6 * CHUNK_BYTES
    opened = h5py.File(temp, "w", rdcc_nbytes=cache_bytes) if isinstance(temp, Path) else nullcontext(temp)
    with opened as out:
        numeric: list[str] | None = None
        categorical: list[str] = []
        dictionaries: dict[str, _Dictionary] = {}
        target_dictionary: _Dictionary | None = None
        rows = 0
        limit = float(np.finfo(dtype).max)
        for batch in reader.batches([*columns, target], types, parallel=parallel):
            if numeric is None:  # the first batch fixes each column's kind
                kinds = {name: arrow_kind(batch.column(name)) for name in [*columns, target]}
                for name, kind in kinds.items():
                    if kind == "binary":
                        raise reader.failure(ValueError(f"column '{name}' is not UTF-8 text"))
                numeric = [n for n in columns if kinds[n] == "numeric"]
                categorical = [n for n in columns if kinds[n] != "numeric"]
                dictionaries = {n: _Dictionary() for n in categorical}
                target_dictionary = None if kinds[target] == "numeric" else _Dictionary()
                bound = _row_bound(reader, len(columns) + 1, max_rows)
                num_ds, code_ds, target_ds = _datasets(
                    out, len(numeric), len(categorical), dtype, target_dictionary, bound
                )
            m = batch.num_rows
            block = np.empty((m, len(numeric)), dtype=dtype)
            for j, name in enumerate(numeric):
                values = _finite(reader, name, numeric_column(batch.column(name)), rows, limit)
                block[:, j] = values
            codes = np.empty((m, len(categorical)), np.int32)
            for j, name in enumerate(categorical):
                codes[:, j] = _codes(reader, name, dictionaries[name], batch.column(name), rows)
            raw_target = batch.column(target)
            if target_dictionary is None:
                target_values: np.ndarray = _finite(reader, target, numeric_column(raw_target), rows, FLOAT64_MAX)
            else:
                target_values = _codes(reader, target, target_dictionary, raw_target, rows)
            for ds, part in ((num_ds, block), (code_ds, codes), (target_ds, target_values)):
                if ds is None:
                    continue
                ds.resize(rows + m, axis=0)
                ds[rows : rows + m] = part
            rows += m
            if max_rows is not None and rows >= max_rows:
                break
        if numeric is None or rows == 0:
            raise DataError(
                f"'{reader.source}' has a header but no rows.", hint="A training file needs at least one data row."
            )
        strings = h5py.string_dtype()
        for j, name in enumerate(categorical):
            out.create_dataset(f"dictionary/{j}", data=np.array(dictionaries[name].values, dtype=object), dtype=strings)
        if target_dictionary is not None:
            out.create_dataset(
                "target_dictionary", data=np.array(target_dictionary.values, dtype=object), dtype=strings
            )
        out.attrs.update(
            version=CACHE_VERSION,
            source=reader.source,
            sha256=sha256,
            rows=rows,
            columns=json.dumps(columns),
            numeric_names=json.dumps(numeric),
            code_names=json.dumps(categorical),
            target=target,
            created=time.time(),
        )


def _datasets(out: Any, k: int, c: int, dtype: str, target_dictionary: Any, max_rows: int) -> tuple[Any, Any, Any]:
    row_bytes = max(1, k * np.dtype(dtype).itemsize + c * 4)
    # HDF5 allocates whole chunks: a 150-row table would take 5 MiB in 4 MiB chunks.
    chunk = max(1, min(max(256, CHUNK_BYTES // row_bytes), max_rows))
    # A dataset with no columns cannot be chunked: it is left out (and read as empty).
    num = out.create_dataset("numeric", (0, k), maxshape=(None, k), dtype=dtype, chunks=(chunk, k)) if k else None
    codes = out.create_dataset("codes", (0, c), maxshape=(None, c), dtype=np.int32, chunks=(chunk, c)) if c else None
    target_dtype = np.float64 if target_dictionary is None else np.int32
    target = out.create_dataset("target", (0,), maxshape=(None,), dtype=target_dtype, chunks=(chunk,))
    return num, codes, target


def _row_bound(reader: TableReader, n_columns: int, max_rows: int | None) -> int:
    """An upper bound on the table's rows: known (Parquet, Feather), or the file's size over the
    shortest possible CSV row (one character and a separator per column)."""
    if reader.num_rows is not None:
        bound = reader.num_rows
    else:
        bound = Path(str(reader.path)).stat().st_size // (2 * n_columns) + 1
    return max(1, min(bound, max_rows if max_rows is not None else bound))


def _codes(reader: TableReader, name: str, dictionary: _Dictionary, column: Any, offset: int) -> np.ndarray:
    text = string_column(column)
    try:
        return dictionary.codes(text)
    except _NulCell as cell:
        import pyarrow.compute as pc

        row = offset + int(pc.index(text, cell.value).as_py())
        raise DataError(
            f"{reader.source}, {reader.line_of(row)}: column '{name}' has a NUL character.",
            hint="The file looks binary or damaged there; fix or remove that line.",
        ) from None


def _finite(reader: TableReader, name: str, values: np.ndarray, offset: int, limit: float) -> np.ndarray:
    """``values``, unless one is infinite or beyond ``limit`` (what the stored dtype holds)."""
    with np.errstate(invalid="ignore"):  # NaN (a missing cell) compares False
        bad = np.abs(values) > limit
    if bad.any():
        row = offset + int(np.flatnonzero(bad)[0])
        value = float(values[row - offset])
        what = "an infinite value" if np.isinf(value) else f"{value:g}, beyond the ±{limit:.3g} its dtype holds"
        raise DataError(
            f"{reader.source}, {reader.line_of(row)}: column '{name}' has {what}.",
            hint="Replace it with a finite number in range, or leave the cell empty to have it filled.",
        )
    return values


class CachedTable:
    """A :class:`~dlcli.data.columns.ColumnStore` over a cache entry."""

    def __init__(self, path: Path | Any) -> None:
        import h5py

        self.path = path if isinstance(path, Path) else None
        self._file = h5py.File(path, "r") if isinstance(path, Path) else path
        attrs = self._file.attrs
        if int(attrs["version"]) != CACHE_VERSION:
            self._file.close()
            raise ValueError("cache layout version")
        self.source, self.sha256 = str(attrs["source"]), str(attrs["sha256"])
        self._rows = int(attrs["rows"])
        self._numeric_names: list[str] = json.loads(attrs["numeric_names"])
        self._code_names: list[str] = json.loads(attrs["code_names"])
        self._numeric, self._codes = self._file.get("numeric"), self._file.get("codes")
        self.dictionaries = {
            name: [v.decode() if isinstance(v, bytes) else str(v) for v in self._file[f"dictionary/{j}"][...]]
            for j, name in enumerate(self._code_names)
        }
        # A text column whose every value is a number (e.g. ' NA ' padding defeated the parser's
        # type inference) is numeric: its values are looked up from the decoded dictionary.
        self._decoded: dict[str, np.ndarray] = {}
        for name, values in self.dictionaries.items():
            parsed = _as_numbers(values)
            if parsed is not None:
                self._decoded[name] = np.append(parsed, np.nan)  # code -1 → NaN
        self.names: list[str] = json.loads(attrs["columns"])
        self.kinds = {n: NUMERIC if n in self._numeric_names or n in self._decoded else CATEGORICAL for n in self.names}
        chunk_rows = int(self._file["target"].chunks[0])
        self.block_rows = chunk_rows * BLOCK_CHUNKS
        self._target_name = str(attrs["target"])

    @property
    def n_rows(self) -> int:
        return self._rows

    def read(self, start: int, stop: int) -> Block:
        numeric = self._numeric[start:stop] if self._numeric_names else np.empty((stop - start, 0))
        codes = self._codes[start:stop] if self._code_names else np.empty((stop - start, 0), np.int32)
        extra = {n: self._decoded[n][codes[:, self._code_names.index(n)]] for n in self._decoded}
        return Block(start, numeric, self._numeric_names, codes, self._code_names, extra)

    def target(self) -> Target:
        values = self._file["target"][...]
        if "target_dictionary" not in self._file:
            return Target(self._target_name, values)
        dictionary = [v.decode() if isinstance(v, bytes) else str(v) for v in self._file["target_dictionary"][...]]
        parsed = _as_numbers(dictionary)
        if parsed is not None:
            return Target(self._target_name, np.append(parsed, np.nan)[values])
        return Target(self._target_name, values, dictionary)

    def close(self) -> None:
        self._file.close()


def _as_numbers(values: list[str]) -> np.ndarray | None:
    if not values:
        return None

    parsed, _ = parse_strings(string_array(values))
    return parsed
