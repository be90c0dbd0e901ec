"""The data formats dlcli reads, by file suffix: one table, read by every command.

Tables (CSV, Parquet, Arrow/Feather) have named columns and are read with pyarrow; arrays
(NPY, NPZ, HDF5) hold numeric ``X`` (and ``y``) and are read with NumPy / h5py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlcli.errors import DataError


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # "table" (named columns) or "array" (numeric X, y)
    suffixes: tuple[str, ...]
    description: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", "table", (".csv", ".tsv", ".txt"), "CSV with a header line"),
        Format("parquet", "table", (".parquet", ".pq"), "Parquet"),
        Format("feather", "table", (".feather", ".arrow", ".ipc"), "Arrow IPC / Feather v2"),
        Format("npy", "array", (".npy",), "NPY (X only: predict)"),
        Format("npz", "array", (".npz",), "NPZ with arrays X and y"),
        Format("hdf5", "array", (".h5", ".hdf5", ".hdf"), "HDF5 with datasets /X and /y"),
    )
}
DEFAULT_FORMAT = "csv"  # an unknown suffix is read as CSV, the format most tools export


def data_format(path: str | Path) -> str:
    """The format name for ``path`` (``-``, stdin, is CSV)."""
    suffix = Path(str(path)).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes:
            return fmt.name
    return DEFAULT_FORMAT


def is_table(path: str | Path) -> bool:
    return FORMATS[data_format(path)].kind == "table"


def require_file(path: str | Path) -> None:
    p = Path(path)
    if not p.exists():
        raise DataError(f"Data file '{path}' not found.", hint="Check the path.")
    if p.is_dir():
        raise DataError(f"'{path}' is a directory, not a data file.")
