"""Encoding: raw column blocks → the model's float input matrix, through a fitted schema.

Numeric columns are copied with missing cells set to the training mean; categorical codes
are one-hot encoded by one scatter per column (codes unseen in training stay all-zero). The
same :class:`Encoder` serves training (blocks of the table cache), evaluation and
prediction (blocks made from pyarrow record batches by :func:`arrow_block`), so a value is
encoded the same way everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.data.columns import Block, require_column
from dlcli.data.quality import InputTally
from dlcli.data.schema import Schema
from dlcli.data.tables import TableReader
from dlcli.data.values import arrow_kind, codes_column, numeric_column, parse_strings, string_array, string_column
from dlcli.errors import DataError


class Encoder:
    """Encode blocks for ``schema``; ``dictionaries`` say what a store's codes mean (default:
    codes index the schema's own categories, as :func:`arrow_block` makes them)."""

    def __init__(self, schema: Schema, dtype: Any = np.float32, dictionaries: dict[str, list[str]] | None = None):
        self.schema, self.dtype = schema, np.dtype(dtype)
        self.fills = np.array([f.fill for f in schema.features], dtype=self.dtype)
        self.numeric_only = all(f.kind == "numeric" for f in schema.features)
        self._names = [f.name for f in schema.features]
        self._remaps: dict[str, np.ndarray] = {}
        for f in schema.features:
            if f.kind != "numeric":
                position = {c: i for i, c in enumerate(f.categories)}
                values = (dictionaries or {}).get(f.name, f.categories)
                # One extra slot at the end: code -1 (missing) indexes it and maps to "no column".
                self._remaps[f.name] = np.array([position.get(v, -1) for v in values] + [-1], dtype=np.int64)

    @property
    def width(self) -> int:
        return self.schema.n_inputs

    def encode(self, block: Block) -> np.ndarray:
        """The ``(len(block), n_inputs)`` inputs for a block with the schema's named columns."""
        if self.numeric_only and block.numeric_names == self._names:
            return self._filled(block.numeric)
        m = len(block)
        out = np.zeros((m, self.width), dtype=self.dtype)
        col = 0
        rows = np.arange(m)
        for i, feature in enumerate(self.schema.features):
            values = block.column(feature.name)
            if feature.kind == "numeric":
                target = out[:, col]
                target[...] = values
                np.copyto(target, self.fills[i], where=np.isnan(target))
            else:
                index = self._remaps[feature.name][values]
                known = index >= 0
                out[rows[known], col + index[known]] = 1.0
            col += feature.width
        return out

    def encode_matrix(self, X: np.ndarray, source: str) -> np.ndarray:
        """A numeric ``(n, k)`` array (NPY/NPZ/HDF5) → inputs, columns taken by position."""
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2:
            raise DataError(f"{source}: expected a 2-D array (n_samples, n_features), got shape {X.shape}.")
        if not self.numeric_only:
            raise DataError(f"{source}: this model has categorical inputs, so it needs a table with named columns.")
        if X.shape[1] != len(self._names):
            raise DataError(
                f"{source}: the model expects {len(self._names)} features, the data has {X.shape[1]}.",
                hint="Pass data with the same columns the model was trained on (see 'dlcli inspect MODEL').",
            )
        return self._filled(X)

    def _filled(self, X: np.ndarray) -> np.ndarray:
        out = np.array(X, dtype=self.dtype, copy=True, order="C")
        missing = np.isnan(out)
        if missing.any():
            np.copyto(out, np.broadcast_to(self.fills, out.shape), where=missing)
        return out


def arrow_block(batch: Any, schema: Schema, reader: TableReader, offset: int, tally: InputTally | None = None) -> Block:
    """A block of the schema's feature columns from a pyarrow record batch.

    ``offset`` is the data row of the batch's first row, for messages. Categorical codes
    index the schema's categories (``-1``: missing or unseen). ``tally`` counts the missing
    cells and unseen categories the encoding will hide.
    """
    numeric_names = [f.name for f in schema.features if f.kind == "numeric"]
    code_names = [f.name for f in schema.features if f.kind != "numeric"]
    numeric = np.empty((batch.num_rows, len(numeric_names)))
    for j, name in enumerate(numeric_names):
        numeric[:, j] = numeric_cells(batch.column(name), name, reader, offset)
    codes = np.empty((batch.num_rows, len(code_names)), np.int32)
    if code_names:  # pyarrow.compute costs 66 ms to import: only models with categories need it
        import pyarrow.compute as pc
    for j, name in enumerate(code_names):
        feature = next(f for f in schema.features if f.name == name)
        text = string_column(batch.column(name))
        index = pc.index_in(text, value_set=string_array(feature.categories))
        codes[:, j] = codes_column(index)
        if tally is not None:
            tally.categorical.add(name)
            tally.add("missing", name, text.null_count)
            tally.add("unseen", name, index.null_count - text.null_count)
    if tally is not None:
        tally.rows += batch.num_rows
        tally.add_missing(numeric_names, numeric)
    return Block(offset, numeric, numeric_names, codes, code_names)


def numeric_cells(array: Any, name: str, reader: TableReader, offset: int) -> np.ndarray:
    """A column the schema says is numeric, as float64; a cell that is not a number is an error."""
    if arrow_kind(array) == "numeric":
        values: np.ndarray | None = numeric_column(array)
        bad = int(np.flatnonzero(np.isinf(values))[0]) if np.isinf(values).any() else -1  # type: ignore[arg-type]
    else:
        text = string_column(array)
        values, bad = parse_strings(text)
    if bad >= 0:
        cell = array[bad].as_py()
        raise DataError(
            f"{reader.source}, {reader.line_of(offset + bad)}: column '{name}' must be numeric, found '{cell}'.",
            hint="Fix the value, or retrain if the column is categorical.",
        )
    assert values is not None
    return values


def feature_types(schema: Schema, names: list[str], source: str) -> dict[str, str]:
    """CSV column types that read the schema's columns as it expects: numbers parsed in C++,
    categories as text (a category spelled ``1`` stays the string ``'1'``)."""
    for feature in schema.features:
        require_column(names, feature.name, "required by the model", source)
    return {f.name: "float64" if f.kind == "numeric" else "string" for f in schema.features}
