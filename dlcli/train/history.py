"""The epoch history inside a checkpoint, as columns rather than a JSON row per epoch.

A row is some 16 numbers under their names; as JSON that is about 600 bytes an epoch, which
made the last checkpoint of a 300-epoch run on a 2.6k-parameter model 360 KB, mostly
history. As columns it is one float64 matrix (8 bytes a value) and a byte per value saying
whether the value is there, ``None`` or absent, and it reads back exactly: the same keys in
the same order, ints as ints, NaN and -0.0 as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ABSENT, VALUE, NONE = 0, 1, 2  # the state byte of each cell
EXACT_INT = 2**53  # an int beyond this would not survive float64: keep such a history as rows
KINDS = {"int": int, "float": float, "bool": bool}


def _kind(values: list[Any]) -> str | None:
    """The column's type, or ``None`` when its values are not all of one storable kind."""
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < EXACT_INT for v in values):
        return "int"
    if all(isinstance(v, float) for v in values):
        return "float"  # a column mixing ints and floats stays rows: each must read back as it was
    return None


def pack(rows: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """``rows`` as columns; rows holding anything but numbers and ``None`` stay rows."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    kinds = [_kind([row[k] for row in rows if row.get(k) is not None]) for k in keys]
    in_order = all(list(row) == [k for k in keys if k in row] for row in rows)  # so each row reads back alike
    if not in_order or any(kind is None for kind in kinds):
        return [dict(row) for row in rows]
    values = np.zeros((len(rows), len(keys)), dtype=np.float64)
    state = np.zeros((len(rows), len(keys)), dtype=np.int8)
    for i, row in enumerate(rows):
        for j, key in enumerate(keys):
            if key in row:
                state[i, j] = NONE if row[key] is None else VALUE
                values[i, j] = 0.0 if row[key] is None else float(row[key])
    return {"columns": keys, "kinds": kinds, "values": values, "state": state}


def unpack(stored: Any) -> list[dict[str, Any]]:
    """The rows :func:`pack` was given (or a list of rows, as checkpoints before columns hold).

    Raises ``ValueError`` or ``TypeError`` on a malformed history (the trainer reports a
    damaged checkpoint).
    """
    if isinstance(stored, list):
        return [dict(row) for row in stored]
    keys, kinds = list(stored["columns"]), [KINDS[k] for k in stored["kinds"]]
    values, state = np.asarray(stored["values"], dtype=np.float64), np.asarray(stored["state"])
    if values.ndim != 2 or values.shape != state.shape or values.shape[1] != len(keys) or len(kinds) != len(keys):
        raise ValueError(f"history columns {len(keys)} do not match values {values.shape} and state {state.shape}")
    rows = []
    for i in range(values.shape[0]):
        row: dict[str, Any] = {}
        for j, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
            if state[i, j] == VALUE:
                row[key] = kind(values[i, j])
            elif state[i, j] == NONE:
                row[key] = None
        rows.append(row)
    return rows
