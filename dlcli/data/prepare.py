"""Training data preparation: read, split, fit the schema on the training rows, encode.

The split comes first so that everything fitted (feature fills, categories, target scaling,
the normalisation layer) sees the training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcli.data.csvtable import Table, read_csv
from dlcli.data.schema import Schema, fit_array_schema, fit_schema, label_key
from dlcli.data.sources import data_format, file_sha256, read_arrays, require_file
from dlcli.data.splits import train_val_indices
from dlcli.errors import DataError


@dataclass
class TrainingData:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    schema: Schema
    source: str
    sha256: str


def prepare_training_data(
    path: str | Path,
    target: str,
    *,
    task: str,
    val_split: float,
    rng: np.random.Generator,
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    delimiter: str = ",",
    dtype: str = "float32",
) -> TrainingData:
    """Read ``path``, split off ``val_split`` of the rows (stratified for classes), fit, encode."""
    require_file(path)
    source = str(path)
    if data_format(path) == "csv":
        if not target:
            raise DataError("No target column given.", hint="Pass --target COLUMN or set [data] target in dlcli.toml.")
        table = read_csv(path, delimiter)
        probe = fit_schema(table, target, task, features, ignore)  # task and classes from all rows
        train_idx, val_idx = _split(table.n_rows, table.columns[target], probe, val_split, rng)
        schema = fit_schema(_take(table, train_idx), target, probe.task, features, ignore)
        schema.classes = probe.classes  # a class absent from the training rows still gets an output

        def encode(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            X = schema.encode_table(_take(table, idx), dtype)
            return X, schema.encode_target(table.columns[target][idx], source)
    else:
        X_raw, y_raw = read_arrays(path, data_format(path), need_y=True)
        assert y_raw is not None
        y_flat = np.asarray(y_raw).reshape(len(y_raw), -1)[:, 0]
        probe = fit_array_schema(X_raw, y_flat, source, task)
        train_idx, val_idx = _split(len(X_raw), y_flat, probe, val_split, rng)
        schema = fit_array_schema(X_raw[train_idx], y_flat[train_idx], source, probe.task)
        schema.classes = probe.classes

        def encode(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return schema.encode_array(X_raw[idx], source, dtype), schema.encode_target(y_flat[idx], source)

    X_train, y_train = encode(train_idx)
    X_val, y_val = encode(val_idx) if len(val_idx) else (None, None)
    return TrainingData(X_train, y_train, X_val, y_val, schema, source, file_sha256(path))


def _split(
    n: int, raw_target: np.ndarray, schema: Schema, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation parts (stratified for classes)."""
    if fraction > 0 and (round(n * fraction) < 1 or n - round(n * fraction) < 1):
        raise DataError(
            f"Cannot hold out {fraction:g} of {n} rows for validation.",
            hint="Use more data, or --val-split 0 to train without a validation set.",
        )
    keys = np.array([label_key(v) for v in raw_target]) if schema.is_classification else np.zeros(n)
    train, val = train_val_indices(keys, fraction, rng, stratify=schema.is_classification)
    return np.sort(train), np.sort(val)


def _take(table: Table, idx: np.ndarray) -> Table:
    return Table(table.source, table.header, {k: v[idx] for k, v in table.columns.items()}, table.first_line)
