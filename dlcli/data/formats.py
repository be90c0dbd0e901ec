"""The data formats dlcli reads, by file suffix: one table, read by every command.

Tables (CSV, Parquet, Arrow/Feather) have named columns and are read with pyarrow; arrays
(NPY, NPZ, HDF5) hold numeric ``X`` (and ``y``) and are read with NumPy / h5py.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
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


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a directory (``-`` is stdin)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing: require_file reports it
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def spooled(path: str | Path, directory: Path) -> str | Path:
    """``path``, or for a stream (a FIFO, a process substitution such as ``<(zcat x.gz)``, a
    device) a copy of it in ``directory`` under a temporary name with the same suffix.

    Training reads its file more than once (a hash, the cache build, the arrays), and a
    stream can be read only once: opened twice, the second reader waits forever on a FIFO.
    The copy is read in one pass, removed when the process exits, and swept if it is killed.
    """
    if not is_stream(path):
        return path
    from dlcli.files import temp_name

    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / temp_name(Path(path).name)
    atexit.register(copy.unlink, missing_ok=True)
    with open(path, "rb") as source, open(copy, "wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    return copy
