"""Where data comes from: CSV, NPY/NPZ (``X``, ``y``), HDF5 (``/X``, ``/y``) and stdin.

Training reads a whole dataset and fits a :class:`Schema`; prediction streams inputs in
chunks through an existing schema so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcli.data.csvtable import iter_csv, open_text, read_csv
from dlcli.data.schema import Schema, fit_array_schema, fit_schema
from dlcli.errors import DataError

ARRAY_SUFFIXES = (".npy", ".npz")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


@dataclass
class Dataset:
    """Encoded data ready for a model. ``y`` is ``None`` when the data has no target."""

    X: np.ndarray
    y: np.ndarray | None
    schema: Schema
    source: str
    sha256: str = ""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_format(path: str | Path) -> str:
    suffix = Path(str(path)).suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return suffix[1:]
    if suffix in HDF5_SUFFIXES:
        return "hdf5"
    return "csv"


def load_training_data(
    path: str | Path,
    target: str,
    *,
    task: str = "auto",
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    delimiter: str = ",",
    dtype: str = "float32",
) -> Dataset:
    """Read a labelled dataset, fit its schema, and encode it."""
    require_file(path)
    fmt = data_format(path)
    if fmt == "csv":
        if not target:
            raise DataError("No target column given.", hint="Pass --target COLUMN or set [data] target in dlcli.toml.")
        table = read_csv(path, delimiter)
        schema = fit_schema(table, target, task, features, ignore)
        X = schema.encode_table(table, dtype)
        y = schema.encode_target(table.columns[target], str(path))
    else:
        X_raw, y_raw = read_arrays(path, fmt, need_y=True)
        assert y_raw is not None
        schema = fit_array_schema(X_raw, y_raw, str(path), task)
        X = schema.encode_array(X_raw, str(path), dtype)
        y = schema.encode_target(np.asarray(y_raw).reshape(len(y_raw), -1)[:, 0], str(path))
    return Dataset(X, y, schema, str(path), file_sha256(path))


def load_labelled(path: str | Path, schema: Schema, *, delimiter: str = ",", dtype: str = "float32") -> Dataset:
    """Read labelled data through an existing schema (for ``eval``)."""
    require_file(path)
    fmt = data_format(path)
    if fmt == "csv":
        table = read_csv(path, delimiter)
        if schema.target not in table.columns:
            raise DataError(
                f"Column '{schema.target}' (the model's target) is not in {path}.",
                hint="Evaluation needs labelled data; use 'dlcli predict' for unlabelled data.",
            )
        return Dataset(
            schema.encode_table(table, dtype),
            schema.encode_target(table.columns[schema.target], str(path)),
            schema,
            str(path),
        )
    X_raw, y_raw = read_arrays(path, fmt, need_y=True)
    assert y_raw is not None
    y_flat = np.asarray(y_raw).reshape(len(y_raw), -1)[:, 0]
    return Dataset(
        schema.encode_array(X_raw, str(path), dtype), schema.encode_target(y_flat, str(path)), schema, str(path)
    )


def iter_inputs(
    path: str | Path, schema: Schema, *, chunk_rows: int = 8192, delimiter: str = ",", dtype: str = "float32"
) -> Iterator[np.ndarray]:
    """Stream encoded model inputs in chunks of at most ``chunk_rows`` rows (``-`` is stdin)."""
    source = "<stdin>" if str(path) == "-" else str(path)
    fmt = "csv" if str(path) == "-" else data_format(path)
    if fmt != "csv" and str(path) == "-":
        raise DataError("stdin must be CSV.")
    if fmt == "csv":
        if str(path) != "-":
            require_file(path)
        with open_text(path) as handle:
            for table in iter_csv(handle, source, delimiter, chunk_rows):
                yield schema.encode_table(table, dtype)
        return
    require_file(path)
    if fmt == "hdf5":
        yield from _iter_hdf5(path, schema, chunk_rows, dtype)
        return
    X_raw, _ = read_arrays(path, fmt, need_y=False)
    for start in range(0, len(X_raw), chunk_rows):
        yield schema.encode_array(X_raw[start : start + chunk_rows], source, dtype)


def require_file(path: str | Path) -> None:
    p = Path(path)
    if not p.exists():
        raise DataError(f"Data file '{path}' not found.", hint="Check the path.")
    if p.is_dir():
        raise DataError(f"'{path}' is a directory, not a data file.")


def read_arrays(path: str | Path, fmt: str, need_y: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if fmt == "hdf5":
        return _read_hdf5(path, need_y)
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(
            f"'{path}' cannot be read as {fmt.upper()} without pickle ({exc}).",
            hint="Save plain numeric arrays (numpy.save / numpy.savez).",
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"'{path}' is not a valid {fmt.upper()} file ({exc}).") from None
    if fmt == "npy":
        if need_y:
            raise DataError(
                f"'{path}' holds one array; training and evaluation need X and y.",
                hint="Save both with numpy.savez(path, X=X, y=y).",
            )
        return _numeric_array(loaded, f"{path}"), None
    with loaded:
        if "X" not in loaded.files:
            raise DataError(
                f"'{path}' has no array 'X' (found: {', '.join(loaded.files) or 'none'}).",
                hint="Save with numpy.savez(path, X=X, y=y).",
            )
        X = _numeric_array(loaded["X"], f"{path}:X")
        y = loaded["y"] if "y" in loaded.files else None
    if need_y and y is None:
        raise DataError(f"'{path}' has no array 'y'.", hint="Save with numpy.savez(path, X=X, y=y).")
    return X, y


def _numeric_array(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype.kind not in "fiub":
        raise DataError(f"{source}: expected numeric features, found dtype {array.dtype}.")
    return array if array.ndim == 2 else array.reshape(len(array), -1)


def _open_hdf5(path: str | Path):  # type: ignore[no-untyped-def]
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"'{path}' is not a readable HDF5 file ({exc}).") from None


def _read_hdf5(path: str | Path, need_y: bool) -> tuple[np.ndarray, np.ndarray | None]:
    with _open_hdf5(path) as handle:
        if "X" not in handle:
            raise DataError(f"'{path}' has no dataset '/X'.", hint="Store features in /X and targets in /y.")
        X = _numeric_array(handle["X"][...], f"{path}:/X")
        y = handle["y"][...] if "y" in handle else None
    if need_y and y is None:
        raise DataError(f"'{path}' has no dataset '/y'.", hint="Store features in /X and targets in /y.")
    if y is not None and y.dtype.kind == "S":
        y = y.astype(str)
    return X, y


def _iter_hdf5(path: str | Path, schema: Schema, chunk_rows: int, dtype: str) -> Iterator[np.ndarray]:
    with _open_hdf5(path) as handle:
        if "X" not in handle:
            raise DataError(f"'{path}' has no dataset '/X'.", hint="Store features in /X.")
        data = handle["X"]
        for start in range(0, data.shape[0], chunk_rows):
            yield schema.encode_array(np.asarray(data[start : start + chunk_rows]), f"{path}:/X", dtype)


def stdin_is_pipe() -> bool:
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
