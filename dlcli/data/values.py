"""pyarrow columns → NumPy values, read the same way by every command.

Numeric columns become float64 (float32 stays float32) with NaN for missing cells, text
columns trimmed strings with null for missing cells, dictionary indices int32 codes with
``-1`` for missing. Arrays are read from their buffers: ``to_numpy``, ``pa.array``,
``pa.scalar`` and ``fill_null`` import pandas when it is installed (0.2–0.3 s), and
``pyarrow.compute`` costs 66 ms to import, which a one-row prediction should not pay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.data.csvtable import MISSING, first_non_numeric

NUMERIC_TYPES = ("int", "uint", "float", "double", "halffloat", "bool", "decimal", "null")


def _pa() -> Any:
    import pyarrow

    return pyarrow


def arrow_kind(array: Any) -> str:
    """``numeric`` or ``string``: how a pyarrow column's stored type is read."""
    text = str(array.type)
    if text.startswith(NUMERIC_TYPES):
        return "numeric"
    if text == "binary" or text == "large_binary":
        return "binary"
    return "string"


def numeric_column(array: Any) -> np.ndarray:
    """A numeric pyarrow column → float64 (float32 stays float32) with NaN for missing cells.

    Read from the buffers rather than with ``to_numpy`` (which imports pandas when it is
    installed) or ``pyarrow.compute`` (66 ms to import): a one-row prediction pays neither.
    """
    pa = _pa()
    if array.type not in (pa.float32(), pa.float64()):
        array = array.cast(pa.float64())
    return _filled(array, np.nan)


def codes_column(indices: Any) -> np.ndarray:
    """Dictionary indices (or ``index_in`` results) → int32 codes, ``-1`` where null.

    Not ``fill_null(-1)``: turning ``-1`` into a pyarrow scalar imports pandas when installed.
    """
    return _filled(indices, -1).astype(np.int32, copy=False)


def _filled(array: Any, fill: float) -> np.ndarray:
    values = plain_numpy(array)
    if array.null_count:
        bits = np.frombuffer(array.buffers()[0], np.uint8)
        valid = np.unpackbits(bits, bitorder="little")[array.offset : array.offset + len(array)].astype(bool)
        values = values.copy()
        values[~valid] = fill
    return values


def plain_numpy(array: Any) -> np.ndarray:
    """A null-free fixed-width pyarrow array's values as a NumPy view (no copy, no pandas)."""
    name = str(array.type)
    dtype = np.dtype({"float": "float32", "double": "float64", "halffloat": "float16"}.get(name, name))
    if len(array) == 0:
        return np.empty(0, dtype)
    values: np.ndarray = np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array) + array.offset)
    return values[array.offset :]


def string_column(array: Any) -> Any:
    """Any pyarrow column → trimmed strings, null where the cell is missing ('', NA, ?, ...)."""
    pa = _pa()
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(array if arrow_kind(array) == "string" else array.cast(pa.string()))
    missing = pc.is_in(pc.utf8_lower(text), value_set=string_array(MISSING))
    return pc.if_else(missing, pa.nulls(len(text), pa.string()), text)


def string_array(values: list[str] | tuple[str, ...]) -> Any:
    """A pyarrow string array built from its buffers.

    ``pa.array`` imports pandas when it is installed, to check for pandas objects: 0.3 s on
    every ``eval`` and on predictions with categories, for a list of a few strings.
    """
    pa = _pa()
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def parse_strings(text: Any) -> tuple[np.ndarray | None, int]:
    """Trimmed strings → (float64 with NaN, -1), or (None, index of the first non-number)."""
    pa = _pa()
    try:
        values = numeric_column(text.cast(pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        cells = np.array(["" if v is None else v for v in text.to_pylist()], dtype=str)
        return None, first_non_numeric(cells)
    if np.isinf(values).any():
        return None, int(np.flatnonzero(np.isinf(values))[0])
    return values, -1
