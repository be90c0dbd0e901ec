"""Column stores: a dataset's raw columns, read in row blocks, whatever the file format.

Schema fitting, encoding and the out-of-core batch source all read a :class:`ColumnStore`,
never a file: the HDF5 cache of a table (:mod:`dlcli.data.cache`) and numeric arrays
(:class:`ArrayStore`, for NPY/NPZ/HDF5 ``/X``) implement it. A block holds numeric columns
as one float matrix (NaN where missing) and categorical columns as int32 codes (``-1``
missing) into the store's per-column dictionary, so nothing per cell is a Python object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

NUMERIC, CATEGORICAL = "numeric", "categorical"


@dataclass
class Block:
    """Rows ``[start, start + len)`` of a store."""

    start: int
    numeric: np.ndarray  # (m, k) float, NaN = missing
    numeric_names: list[str]
    codes: np.ndarray  # (m, c) int32, -1 = missing
    code_names: list[str]
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # numeric columns stored as codes

    def __post_init__(self) -> None:
        self._numeric_index = {n: i for i, n in enumerate(self.numeric_names)}
        self._code_index = {n: i for i, n in enumerate(self.code_names)}

    def __len__(self) -> int:
        return int(self.numeric.shape[0] if self.numeric_names else self.codes.shape[0])

    def column(self, name: str) -> np.ndarray:
        if name in self.extra:
            return self.extra[name]
        if name in self._numeric_index:
            return self.numeric[:, self._numeric_index[name]]
        return self.codes[:, self._code_index[name]]

    def take(self, rows: np.ndarray) -> Block:
        """The rows at local indices ``rows``."""
        return Block(
            self.start,
            self.numeric[rows],
            self.numeric_names,
            self.codes[rows],
            self.code_names,
            {k: v[rows] for k, v in self.extra.items()},
        )


@dataclass
class Target:
    """A whole target column: float64 values (NaN missing), or int32 codes into ``dictionary``."""

    name: str
    values: np.ndarray
    dictionary: list[str] | None = None
    # label_keys() of this column, computed once: fitting, splitting and encoding all ask.
    labels: tuple[list[str], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values) if self.dictionary is None else self.values < 0


class ColumnStore(Protocol):
    source: str
    sha256: str
    names: list[str]  # feature columns, in file order
    kinds: dict[str, str]  # name → NUMERIC | CATEGORICAL
    dictionaries: dict[str, list[str]]  # categorical name → the values its codes index
    block_rows: int

    @property
    def n_rows(self) -> int: ...

    def read(self, start: int, stop: int) -> Block: ...

    def target(self) -> Target | None: ...

    def close(self) -> None: ...


def blocks(store: ColumnStore, rows: int | None = None) -> Iterator[Block]:
    """Every row of ``store`` once, in order, a block at a time."""
    step = rows or store.block_rows
    for start in range(0, store.n_rows, step):
        yield store.read(start, min(store.n_rows, start + step))


class ArrayStore:
    """Numeric ``X`` (an array, a memory map or an h5py dataset) and optional ``y`` as a store.

    Features are named ``x0 … xk``. Only the rows of a block are read, so an HDF5 ``/X`` or a
    memory-mapped NPY file larger than memory is served block by block.
    """

    def __init__(self, X: Any, y: np.ndarray | None, source: str, sha256: str = "", *, closer: Any = None) -> None:
        self.X, self.y, self.source, self.sha256 = X, y, source, sha256
        self.names = [f"x{i}" for i in range(int(X.shape[1]))]
        self.kinds = dict.fromkeys(self.names, NUMERIC)
        self.dictionaries: dict[str, list[str]] = {}
        row_bytes = max(1, int(X.shape[1]) * 8)
        self.block_rows = int(max(1024, min(1 << 16, (32 << 20) // row_bytes)))
        self._closer = closer

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def read(self, start: int, stop: int) -> Block:
        numeric = np.asarray(self.X[start:stop])
        if numeric.dtype.kind != "f":
            numeric = numeric.astype(np.float64)
        check_magnitude(numeric, self.source, start, self.names)
        return Block(start, numeric, self.names, np.empty((len(numeric), 0), np.int32), [])

    def target(self) -> Target | None:
        if self.y is None:
            return None
        y = np.asarray(self.y)
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        if y.dtype.kind in "SU":
            text = y.astype(str)
            dictionary, codes = np.unique(np.char.strip(text), return_inverse=True)
            return Target("y", codes.astype(np.int32), [str(v) for v in dictionary])
        return Target("y", y.astype(np.float64))

    def close(self) -> None:
        if self._closer is not None:
            self._closer.close()
            self._closer = None


# Inputs are computed in float32 by default: a larger magnitude would become inf there.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_magnitude(values: np.ndarray, source: str, start: int, names: list[str]) -> None:
    """A :class:`DataError` naming the first infinite or float32-overflowing value of the 2-D
    ``values`` (rows from ``start``); NaN is a missing cell, filled later."""
    if not values.size:
        return
    # fmax/fmin skip NaN and allocate nothing: two passes over the block, no temporaries.
    if np.fmax.reduce(values, axis=None) <= FLOAT32_MAX and np.fmin.reduce(values, axis=None) >= -FLOAT32_MAX:
        return
    from dlcli.errors import DataError

    with np.errstate(invalid="ignore"):
        row, col = (int(i) for i in np.argwhere(np.abs(values) > FLOAT32_MAX)[0])
    value = float(values[row, col])
    what = "an infinite value" if np.isinf(value) else f"{value:g}, beyond the float32 range (±{FLOAT32_MAX:.3g})"
    raise DataError(
        f"{source}, data row {start + row + 1}: column '{names[col]}' has {what}.",
        hint="Replace it with a finite number in range, or with NaN to have it filled with the training mean.",
    )


def require_column(names: list[str], name: str, role: str, source: str) -> None:
    """A :class:`DataError` with the nearest name when ``name`` is not a column."""
    if name in names:
        return
    import difflib

    from dlcli.errors import DataError, setting

    close = difflib.get_close_matches(name, names, n=1)
    hint = f"Did you mean '{close[0]}'?" if close else f"Columns are: {', '.join(names)}."
    if len(names) == 1 and not close:
        # One column whose name holds punctuation: the file is split on another delimiter.
        hint = (
            f"The header was read as one column, '{names[0]}': pass its delimiter with "
            f"{setting('data.delimiter', 'CHAR')}."
        )
    raise DataError(f"Column '{name}' {role} is not in {source}.", hint=hint)


def select_columns(
    names: list[str], source: str, target: str | None, features: list[str] | None, ignore: list[str] | None
) -> list[str]:
    """The feature columns: ``features``, else every column but the target and ``ignore``."""
    if target:
        require_column(names, target, "given as the target", source)
    for name in ignore or []:
        require_column(names, name, "listed in data.ignore", source)
    for name in features or []:
        require_column(names, name, "listed in data.features", source)
    for role, listed in (("data.features", features), ("data.ignore", ignore)):
        if target and target in (listed or []):
            from dlcli.errors import DataError

            raise DataError(
                f"{role} lists the target column '{target}'.",
                hint=f"Remove '{target}' from {role}: the target is never a feature, and it cannot be ignored.",
            )
    chosen = list(features) if features else [n for n in names if n != target and n not in (ignore or [])]
    if not chosen:
        from dlcli.errors import DataError

        raise DataError(f"{source}: no feature columns left besides the target '{target}'.")
    return chosen
