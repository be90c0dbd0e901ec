"""Streaming writers for predictions: CSV, JSON Lines and NPY, one chunk at a time.

Files are written to a temporary name beside the target and renamed when complete, so an
interrupted prediction never leaves a half-written file under the final name.
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

FORMATS = ("csv", "jsonl", "npy")
_NPY_HEADER_BYTES = 128  # fixed, so the row count can be patched in at the end


class PredictionWriter:
    """Write prediction chunks to ``path`` (``None``: stdout) in ``fmt``."""

    def __init__(self, path: Path | None, fmt: str, columns: list[str]) -> None:
        if fmt not in FORMATS:
            raise DataError(f"Unknown output format '{fmt}'. Expected one of: {', '.join(FORMATS)}.")
        self.path, self.fmt, self.columns = path, fmt, columns
        self.rows = 0
        self._target: AtomicFile | None = None
        self._buffered: list[np.ndarray] = []  # NPY to stdout cannot seek back to fix the header
        self.handle: IO[Any]
        if path is None:
            self.handle = cast(IO[Any], sys.stdout.buffer if fmt == "npy" else sys.stdout)
        else:
            directory = path.parent if str(path.parent) else Path(".")
            if not directory.is_dir():
                raise DataError(f"Output directory '{directory}' does not exist.")
            self._target = AtomicFile(path)
            self.handle = self._target.open("wb" if fmt == "npy" else "w", newline="" if fmt == "csv" else None)
        if fmt == "csv":
            self._csv = csv.writer(self.handle, lineterminator="\n")
            self._csv.writerow(columns)
        elif fmt == "npy" and path is not None:
            self.handle.write(b"\0" * _NPY_HEADER_BYTES)

    def write(self, chunk: np.ndarray) -> None:
        if self.fmt == "csv":
            rows = chunk.reshape(len(chunk), -1).tolist()
            self._csv.writerows(_plain(r) for r in rows)
        elif self.fmt == "jsonl":
            for row in chunk.reshape(len(chunk), -1).tolist():
                self.handle.write(json.dumps(dict(zip(self.columns, _plain(row), strict=True))) + "\n")
        elif self.path is None:
            self._buffered.append(np.asarray(chunk))
        else:
            self.handle.write(np.ascontiguousarray(_npy_array(chunk)).tobytes())
            self._npy_meta = _npy_array(chunk[:0])
        self.rows += len(chunk)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.fmt == "npy":
            self._finish_npy()
        self.handle.flush()
        if self._target is None:
            return
        self.handle.close()
        self._target.commit()
        self._target = None

    def abort(self) -> None:
        """Drop a partial file (on error or Ctrl-C)."""
        if self._target is not None:
            self.handle.close()
            self._target.discard()
            self._target = None

    def _finish_npy(self) -> None:
        if self.path is None:
            array = np.concatenate(self._buffered) if self._buffered else np.empty((0,))
            np.save(self.handle, _npy_array(array), allow_pickle=False)
            return
        meta = getattr(self, "_npy_meta", np.empty((0,), dtype=np.float64))
        shape = (self.rows, *meta.shape[1:])
        header = {"descr": np.lib.format.dtype_to_descr(meta.dtype), "fortran_order": False, "shape": shape}
        text = repr(header).encode("latin1")
        prefix = b"\x93NUMPY\x01\x00"
        pad = _NPY_HEADER_BYTES - len(prefix) - 2 - len(text) - 1
        self.handle.seek(0)
        self.handle.write(prefix + (_NPY_HEADER_BYTES - 10).to_bytes(2, "little") + text + b" " * pad + b"\n")
        self.handle.seek(0, os.SEEK_END)


def _npy_array(chunk: np.ndarray) -> np.ndarray:
    """Predictions as a plain array: numbers stay numeric, labels become fixed-width strings."""
    array = np.asarray(chunk)
    if array.dtype == object:
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            return array.astype("U64")
    return array


def _plain(row: list[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in row]
