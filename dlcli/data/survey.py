"""What ``dlcli init`` learns about a dataset, in bounded time and memory.

Column kinds and the task come from a sample (the first :data:`SAMPLE_ROWS` rows); then one
streaming pass over the categorical columns and the target counts the rows and collects the
categories and classes, for at most :data:`SURVEY_SECONDS` (a larger file's counts say they
are partial).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.arrays import open_arrays
from dlcli.data.cache import sample_table
from dlcli.data.columns import NUMERIC, Target, select_columns
from dlcli.data.fit import fit_schema_and_quality, fit_target
from dlcli.data.formats import is_table, require_file
from dlcli.data.quality import DataQuality
from dlcli.data.schema import Schema, label_key
from dlcli.data.sources import arrow_target
from dlcli.data.tables import TableReader, TypeConflict
from dlcli.data.values import string_column

SAMPLE_ROWS = 100_000
SURVEY_SECONDS = 10.0


@dataclass
class Survey:
    schema: Schema
    n_rows: int
    complete: bool  # False: the pass stopped at the time limit; counts are lower bounds
    categories: dict[str, int] = field(default_factory=dict)
    quality: DataQuality | None = None  # missing cells and distinct values in the sample
    delimiter: str = ","  # the CSV delimiter in use (given, or sniffed from the header line)


def survey(path: str | Path, target: str, *, delimiter: str = ",", seconds: float = SURVEY_SECONDS) -> Survey:
    """Fit a schema to ``path``'s sample, then count rows, categories and classes in one pass."""
    require_file(path)
    if not is_table(path):
        store = open_arrays(path, need_y=True)
        try:
            raw = store.target()
            assert raw is not None
            probe = fit_target(raw, store.source)
            schema, quality = fit_schema_and_quality(
                store, raw, np.arange(store.n_rows), task=probe.task, classes=probe.classes
            )
            return Survey(schema, store.n_rows, True, quality=quality)
        finally:
            store.close()
    reader = TableReader(path, delimiter)
    columns = select_columns(reader.names, reader.source, target, None, None)
    sample = sample_table(reader, columns, target, SAMPLE_ROWS)
    raw = sample.target()
    probe = fit_target(raw, reader.source)
    schema, quality = fit_schema_and_quality(
        sample, raw, np.arange(sample.n_rows), task=probe.task, classes=probe.classes
    )
    sample.close()
    categorical = [f.name for f in schema.features if f.kind != NUMERIC]
    n_rows, complete, seen, labels = _count(reader, categorical, target, schema.is_classification, seconds)
    for feature in schema.features:
        if feature.name in seen:
            feature.categories = sorted(seen[feature.name])
    if schema.is_classification and complete:
        full = fit_target(Target(target, np.arange(len(labels), dtype=np.int32), sorted(labels)), reader.source)
        schema.classes, schema.task = full.classes, full.task
    return Survey(schema, n_rows, complete, {n: len(v) for n, v in seen.items()}, quality, reader.delimiter)


def _count(
    reader: TableReader, categorical: list[str], target: str, classes: bool, seconds: float
) -> tuple[int, bool, dict[str, set[str]], set[str]]:
    seen: dict[str, set[str]] = {n: set() for n in categorical}
    labels: set[str] = set()
    rows, deadline = 0, time.monotonic() + seconds
    types = dict.fromkeys(categorical, "string")
    try:
        for batch in reader.batches([*categorical, target], types):
            rows += batch.num_rows
            for name in categorical:
                seen[name].update(v for v in string_column(batch.column(name)).unique().to_pylist() if v is not None)
            if classes:
                labels.update(_labels(batch.column(target), target))
            if time.monotonic() > deadline:
                return rows, False, seen, labels
    except TypeConflict:  # the sample fixed the kinds; a late type change only stops the count
        return rows, False, seen, labels
    return rows, True, seen, labels


def _labels(array: Any, name: str) -> set[str]:
    column = arrow_target(array, name)
    if column.dictionary is not None:
        return {label_key(v) for v in column.dictionary}
    return {label_key(v) for v in np.unique(column.values[~np.isnan(column.values)]).tolist()}
