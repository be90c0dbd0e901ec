"""Fitting a :class:`~dlcli.data.schema.Schema` to a column store: one streaming pass.

The task and the class list come from the whole target column (index-sized, in memory);
feature fills (the training mean) and categories come from the training rows only, reduced
block by block: per numeric column a float64 sum and count, per categorical column the code
counts. Memory is one block, whatever the number of rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.data.columns import NUMERIC, ColumnStore, Target, blocks
from dlcli.data.quality import DataQuality
from dlcli.data.schema import (
    MAX_AUTO_CLASSES,
    Feature,
    Schema,
    _label_value,
    _sort_key,
    label_keys,
)
from dlcli.errors import DataError


def fit_target(target: Target, source: str, task: str = "auto") -> Schema:
    """A schema with no features yet: the task, and the classes from every row."""
    schema = Schema(task="regression", features=[], target=target.name)
    if target.missing.any():
        row = int(np.argmax(target.missing))
        raise DataError(
            f"{source}: target '{target.name}' is missing in data row {row + 1}.",
            hint="Drop rows without a target, or fill them in.",
        )
    numeric = target.values if target.dictionary is None else None
    if numeric is not None and len(numeric) and np.all(numeric == numeric[0]):
        raise DataError(
            f"{source}: target '{target.name}' is {float(numeric[0]):g} in every row; nothing to learn.",
            hint="Check that data.target names the column to predict.",
        )
    if numeric is not None:
        _check_magnitude(target, source, numeric)
    if task == "auto":
        task = _infer_task(numeric)
    keys: list[str] = []
    if task != "regression":
        keys, _ = label_keys(target)
    if task == "classification":
        task = "binary" if len(keys) == 2 else "multiclass"
    schema.task = task
    if task == "regression":
        if numeric is None:
            assert target.dictionary is not None
            raise DataError(
                f"{source}: target '{target.name}' has non-numeric value '{target.dictionary[0]}', "
                "so it cannot be regressed.",
                hint="Use --set data.task=multiclass for class labels.",
            )
        return schema
    labels = sorted(keys, key=_sort_key)
    schema.classes = [_label_value(v) for v in labels]
    if len(labels) < 2:
        raise DataError(f"{source}: target '{target.name}' has a single class ({labels[0]}); nothing to learn.")
    if task == "binary" and len(labels) != 2:
        raise DataError(
            f"{source}: data.task is binary but target '{target.name}' has {len(labels)} classes.",
            hint="Use --set data.task=multiclass.",
        )
    return schema


# Beyond this, float32 outputs and squared errors overflow: the metrics would be inf or NaN.
MAX_TARGET = float(np.sqrt(np.finfo(np.float32).max))


def _check_magnitude(target: Target, source: str, numeric: np.ndarray) -> None:
    """Refuse a target too large to learn, checked on every row (before the split decides)."""
    magnitude = np.abs(numeric)
    row = int(np.argmax(magnitude)) if len(numeric) else 0
    if len(numeric) and float(magnitude[row]) > MAX_TARGET:
        raise DataError(
            f"{source}: target '{target.name}' is {float(numeric[row]):g} in data row {row + 1}, "
            f"beyond the ±{MAX_TARGET:.3g} a target can have.",
            hint="Rescale the target (e.g. to thousands, or its logarithm), or correct that value.",
        )


def _infer_task(numeric: np.ndarray | None) -> str:
    if numeric is None:
        return "classification"
    distinct = np.unique(numeric)
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_AUTO_CLASSES:
        return "binary" if len(distinct) == 2 else ("multiclass" if len(distinct) > 2 else "regression")
    return "regression"


def fit_schema(
    store: ColumnStore, target: Target, rows: np.ndarray, *, task: str, classes: list[Any] | None = None
) -> Schema:
    """Fit features and target scaling on the store's rows ``rows`` (sorted indices)."""
    return fit_schema_and_quality(store, target, rows, task=task, classes=classes)[0]


def fit_schema_and_quality(
    store: ColumnStore, target: Target, rows: np.ndarray, *, task: str, classes: list[Any] | None = None
) -> tuple[Schema, DataQuality]:
    """:func:`fit_schema`, and the missing cells and distinct categories the same pass counted."""
    schema = fit_target(target, store.source, task)
    if classes is not None:
        schema.classes = list(classes)
    names = store.names
    sums = dict.fromkeys((n for n in names if store.kinds[n] == NUMERIC), 0.0)
    counts = dict.fromkeys(sums, 0)
    seen = {n: np.zeros(len(store.dictionaries[n]) + 1, np.int64) for n in names if n not in sums}
    for block in blocks(store):
        lo, hi = np.searchsorted(rows, [block.start, block.start + len(block)])
        if lo == hi:
            continue
        local = rows[lo:hi] - block.start
        part = block if hi - lo == len(block) else block.take(local)
        for name in sums:
            values = part.column(name)
            present = ~np.isnan(values)
            sums[name] += float(np.sum(values, where=present, dtype=np.float64))
            counts[name] += int(np.count_nonzero(present))
        for name, tally in seen.items():
            tally += np.bincount(part.column(name) + 1, minlength=len(tally))
    features = []
    quality = DataQuality(len(rows))
    for name in names:
        if name in sums:
            features.append(Feature(name, "numeric", fill=sums[name] / counts[name] if counts[name] else 0.0))
            quality.missing[name] = len(rows) - counts[name]
        else:
            dictionary = store.dictionaries[name]
            present = np.flatnonzero(seen[name][1:])
            features.append(Feature(name, "categorical", categories=sorted(dictionary[i] for i in present)))
            quality.missing[name] = int(seen[name][0])  # code -1: no value
            quality.distinct[name] = len(present)
    quality.missing = {name: n for name, n in quality.missing.items() if n}
    schema.features = features
    if schema.task == "regression":
        values = target.values[rows]
        schema.target_mean, schema.target_std = float(values.mean()), float(values.std() or 1.0)
        schema.target_scaled = True
    return schema, quality
