"""Streaming writers for predictions: CSV, JSON Lines, NPY and Parquet, one chunk at a time.

Files are written to a temporary name beside the target and renamed when complete, so an
interrupted prediction never leaves a half-written file under the final name. NPY needs
the row count in its header, so NPY to stdout is spooled to an anonymous temporary file and
copied out at the end: memory stays one chunk, whatever the number of rows.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from dlcli.errors import DataError
from dlcli.files import AtomicFile

FORMATS = ("csv", "jsonl", "npy", "parquet")
NPY_HEADER_BYTES = 128  # fixed, so the row count can be patched in at the end


class PredictionWriter:
    """Write prediction chunks to ``path`` (``None``: stdout) in ``fmt``.

    ``header=False`` leaves out CSV's header line (a part that is appended to another).
    """

    def __init__(
        self, path: Path | None, fmt: str, columns: list[str], labels: list[Any] | None = None, *, header: bool = True
    ) -> None:
        if fmt not in FORMATS:
            raise DataError(f"Unknown output format '{fmt}'. Expected one of: {', '.join(FORMATS)}.")
        self.path, self.fmt, self.columns = path, fmt, columns
        self.rows = 0
        self._target: AtomicFile | None = None
        self._spool: IO[Any] | None = None  # NPY to stdout: written here, copied out on close
        self._parquet: Any = None
        # One dtype for every chunk: the class labels decide it (ints stay ints, text is fixed-width).
        self._npy_dtype: np.dtype[Any] | None = _label_dtype(labels) if labels else None
        self.handle: IO[Any]
        if path is None and fmt == "npy":
            import tempfile

            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close() / abort()
            self.handle = self._spool
        elif path is None:
            self.handle = cast(IO[Any], sys.stdout.buffer if fmt == "parquet" else sys.stdout)
        else:
            directory = path.parent if str(path.parent) else Path(".")
            if not directory.is_dir():
                raise DataError(f"Output directory '{directory}' does not exist.")
            self._target = AtomicFile(path)
            binary = fmt in ("npy", "parquet")
            self.handle = self._target.open("wb" if binary else "w", newline="" if fmt == "csv" else None)
        if fmt == "csv":
            self._csv = csv.writer(cast(IO[str], self.handle), lineterminator="\n")
            self._header_due = header  # written with the first rows: a bad first chunk prints nothing
        elif fmt == "npy":
            self.handle.write(b"\0" * NPY_HEADER_BYTES)

    def write(self, chunk: np.ndarray) -> None:
        if self.fmt == "csv":
            self._csv_header()
            rows = chunk.reshape(len(chunk), -1).tolist()
            # tolist() gives Python numbers; only an object array can hold NumPy scalars.
            plain = chunk.dtype != object or not rows or not isinstance(rows[0][0], np.generic)
            self._csv.writerows(rows if plain else (_plain(r) for r in rows))
        elif self.fmt == "jsonl":
            for row in chunk.reshape(len(chunk), -1).tolist():
                self.handle.write(json.dumps(dict(zip(self.columns, _plain(row), strict=True))) + "\n")
        elif self.fmt == "parquet":
            self._write_parquet(chunk)
        else:
            array = _npy_array(chunk, self._npy_dtype)
            self._npy_dtype = array.dtype
            self.handle.write(np.ascontiguousarray(array).tobytes())
            self._npy_meta = array[:0]
        self.rows += len(chunk)

    def _csv_header(self) -> None:
        if self._header_due:
            self._csv.writerow(self.columns)
            self._header_due = False

    def _write_parquet(self, chunk: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        values = chunk.reshape(len(chunk), -1)
        arrays = [pa.array(_plain(values[:, j].tolist())) for j in range(values.shape[1])]
        if self._parquet is None:
            table = pa.table(arrays, names=self.columns)
            self._parquet = pq.ParquetWriter(self.handle, table.schema)
        else:
            table = pa.table(arrays, names=self.columns).cast(self._parquet.schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.fmt == "npy":
            self._finish_npy()
        if self.fmt == "csv":
            self._csv_header()  # no rows: the header alone
        if self._parquet is not None:
            self._parquet.close()
        elif self.fmt == "parquet":  # no rows: an empty file with the columns
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({c: pa.array([], pa.float64()) for c in self.columns}), self.handle)
        if self._spool is not None:
            import shutil

            self._spool.seek(0)
            shutil.copyfileobj(self._spool, sys.stdout.buffer, 1 << 20)
            self._spool.close()
            sys.stdout.buffer.flush()
            return
        self.handle.flush()
        if self._target is None:
            return
        self.handle.close()
        self._target.commit()
        self._target = None

    def abort(self) -> None:
        """Drop a partial file (on error or Ctrl-C)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._target is not None:
            self.handle.close()
            self._target.discard()
            self._target = None

    def _finish_npy(self) -> None:
        meta = getattr(self, "_npy_meta", np.empty((0,), dtype=np.float64))
        self.handle.seek(0)
        self.handle.write(npy_header(meta.dtype, (self.rows, *meta.shape[1:])))
        self.handle.seek(0, os.SEEK_END)


def npy_header(dtype: np.dtype[Any], shape: tuple[int, ...]) -> bytes:
    """The fixed-size (:data:`NPY_HEADER_BYTES`) NPY 1.0 header the writer puts first."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    prefix = b"\x93NUMPY\x01\x00"
    pad = NPY_HEADER_BYTES - len(prefix) - 2 - len(text) - 1
    return prefix + (NPY_HEADER_BYTES - 10).to_bytes(2, "little") + text + b" " * pad + b"\n"


def _label_dtype(labels: list[Any]) -> np.dtype[Any]:
    if all(isinstance(v, int | np.integer) for v in labels):
        return np.dtype(np.int64)
    return np.dtype(f"U{max(1, *(len(str(v)) for v in labels))}")


def _npy_array(chunk: np.ndarray, dtype: np.dtype[Any] | None) -> np.ndarray:
    """Predictions as a plain array in ``dtype`` (the first chunk's, for the ones after)."""
    array = np.asarray(chunk)
    if dtype is not None:
        return array.astype(dtype) if dtype.kind != "U" else array.astype(str).astype(dtype)
    if array.dtype == object:
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            return array.astype(str)
    return array


def _plain(row: list[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in row]
