"""``dlcli explain``: which features drive a model's predictions, in the data's own terms.

Two answers, both per **original** feature (a categorical feature's one-hot columns count as
one): permutation importance (:mod:`.importance`), and per-row integrated-gradient
attributions (here), computed by :mod:`dlcli.nn.attribution` through the model's own layers.

An attribution is of what the user reads: the probability of the predicted class (or of
``--class``), or the regression value in the target's units. Per row the attributions sum to
``f(x) - f(baseline)``; the gap is measured and reported, never assumed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.schema import Schema, label_key
from dlcli.data.sources import iter_inputs, iter_inputs_kept
from dlcli.data.writers import PredictionWriter
from dlcli.errors import DataError, UsageError, setting
from dlcli.nn.attribution import QUADRATURES, AffineSplit, integrated_gradients
from dlcli.nn.normalization import Normalization

from .inference import Predictor, localize

BASELINES = ("mean", "zero")  # or a data file, whose rows' mean is the baseline
DEFAULT_STEPS = 50
DEFAULT_METHOD = "gausslegendre"
TOLERANCE = 0.01  # completeness: a row's attributions sum to f(x) - f(baseline) within 1%
# Below this difference (a percentage point of probability, or 1% of the target's standard
# deviation) the gap is measured against it instead: a row predicted almost as the baseline
# is has almost nothing to attribute, and 1% of almost nothing is below float32 rounding.
GAP_FLOOR = 0.01
PLOT_ROWS = 2000  # rows kept for the beeswarm picture


def for_explaining(predictor: Predictor) -> Predictor:
    """``predictor``, or, for a model with several outputs and no dlcli schema (written by
    Keras), one whose outputs are classes named by their index: each output is explained as a
    class, instead of the first one as a value."""
    schema, outputs = predictor.schema, predictor.model.output_dim
    if schema.task != "regression" or outputs == 1:
        return predictor
    return replace(predictor, schema=replace(schema, task="multiclass", classes=list(range(outputs))))


def feature_columns(schema: Schema) -> list[tuple[str, slice]]:
    """Each original feature's name and its columns in the model's input."""
    groups, start = [], 0
    for feature in schema.features:
        groups.append((feature.name, slice(start, start + feature.width)))
        start += feature.width
    return groups


def group_sums(values: np.ndarray, groups: Sequence[tuple[str, slice]]) -> np.ndarray:
    """``(rows, n_features)``: column values summed over each feature's columns."""
    out = np.empty((len(values), len(groups)), dtype=np.float64)
    for j, (_, columns) in enumerate(groups):
        out[:, j] = values[:, columns].sum(axis=1, dtype=np.float64)
    return out


@dataclass
class Target:
    """What is attributed: ``fixed`` a class index (``None``: each row's predicted class, or
    the regression value); ``scale``/``offset`` turn the model's output into the user's units;
    ``spread`` is the attributed value's typical size (1 for a probability, the target's
    standard deviation), against which a tiny difference's gap is measured."""

    task: str
    fixed: int | None
    scale: float = 1.0
    offset: float = 0.0
    spread: float = 1.0

    def seeds(self, outputs: np.ndarray, classes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Output gradients per row and the class index each row explains (``-1``: regression)."""
        n = len(outputs)
        if self.task == "regression":
            return np.full((n, 1), self.scale), np.full(n, -1)
        if self.task == "binary":
            chosen = (outputs[:, 0] >= 0.5).astype(int) if self.fixed is None else np.full(n, self.fixed)
            return np.where(chosen == 1, 1.0, -1.0)[:, None], chosen
        chosen = np.argmax(outputs, axis=1) if self.fixed is None else np.full(n, self.fixed)
        return np.eye(len(classes))[chosen], chosen


def attribution_target(schema: Schema, class_name: str | None) -> Target:
    """The :class:`Target` for ``--class`` (classification only; a name the model knows)."""
    if schema.task == "regression":
        if class_name is not None:
            raise UsageError(f"{setting('class')} needs a classification model; this one is a regression model.")
        scale = schema.target_std if schema.target_scaled else 1.0
        offset = schema.target_mean if schema.target_scaled else 0.0
        return Target("regression", None, scale, offset, schema.target_std or 1.0)
    fixed = None
    if class_name is not None:
        keys = [label_key(c) for c in schema.classes]
        if label_key(class_name) not in keys:
            raise UsageError(
                f"{setting('class', class_name)}: the model has no such class.",
                hint=f"Its classes are: {', '.join(map(str, schema.classes))}.",
            )
        fixed = keys.index(label_key(class_name))
    return Target(schema.task, fixed)


def resolve_baseline(predictor: Predictor, baseline: str, *, remote_options: Any = None) -> np.ndarray:
    """The baseline row in the model's input space: ``mean`` (the training mean the model's
    Normalization holds: zero after standardisation), ``zero``, or the mean of a data file's rows."""
    model = predictor.model
    if baseline == "zero":
        return np.zeros(model.input_dim)
    if baseline == "mean":
        first = model.layers[0]
        if not isinstance(first, Normalization):
            raise UsageError(
                f"{setting('baseline', 'mean')} needs the training mean, and this model does not start "
                "with a Normalization layer that holds it.",
                hint=f"Use {setting('baseline', 'zero')}, or a data file of reference rows.",
            )
        return np.asarray(first.state["mean"], dtype=np.float64).copy()
    path = localize(baseline, remote_options=remote_options)
    if not Path(path).is_file():
        raise UsageError(
            f"{setting('baseline', baseline)} is neither {' nor '.join(BASELINES)} nor a data file.",
            hint="Give a CSV (or Parquet, NPY, ...) file of reference rows; their mean is the baseline.",
        )
    total, rows = np.zeros(model.input_dim), 0
    for X in iter_inputs(path, predictor.schema, dtype="float64"):
        total += X.sum(axis=0)
        rows += len(X)
    if rows == 0:
        raise DataError(f"Baseline file '{baseline}' has no rows.")
    mean: np.ndarray = total / rows
    return mean


@dataclass
class AttributionBlock:
    """One chunk of rows: ``values`` ``(rows, n_features)`` in the user's units."""

    values: np.ndarray
    explained: np.ndarray  # class index per row (-1: regression)
    at_x: np.ndarray
    at_baseline: np.ndarray
    gap: np.ndarray
    steps: np.ndarray
    inputs: np.ndarray  # (rows, n_features): the row's value of each feature (categorical: NaN)
    kept: np.ndarray | None = None


@dataclass
class AttributionSummary:
    """What the rows came to: counts, completeness, mean |attribution| per feature, a sample."""

    features: list[str]
    rows: int = 0
    worst_gap: float = 0.0
    refined: int = 0
    max_steps: int = 0
    abs_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sample_values: list[np.ndarray] = field(default_factory=list)
    sample_inputs: list[np.ndarray] = field(default_factory=list)

    def add(self, block: AttributionBlock, base_steps: int) -> None:
        if not len(self.abs_sum):
            self.abs_sum = np.zeros(len(self.features))
        self.rows += len(block.values)
        if len(block.gap):
            self.worst_gap = max(self.worst_gap, float(block.gap.max()))
            self.max_steps = max(self.max_steps, int(block.steps.max()))
        self.refined += int(np.sum(block.steps > base_steps))
        self.abs_sum += np.abs(block.values).sum(axis=0)
        room = PLOT_ROWS - sum(len(v) for v in self.sample_values)
        if room > 0:
            self.sample_values.append(block.values[:room])
            self.sample_inputs.append(block.inputs[:room])

    def mean_abs(self) -> list[tuple[str, float]]:
        """Features by mean |attribution|, largest first."""
        means = self.abs_sum / max(self.rows, 1)
        return sorted(zip(self.features, means.tolist(), strict=True), key=lambda item: -item[1])

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "completeness": {"worst_gap": self.worst_gap, "tolerance": TOLERANCE, "refined_rows": self.refined},
            "max_steps": self.max_steps,
            "mean_abs_attribution": [{"feature": f, "value": v} for f, v in self.mean_abs()],
        }


def iter_attributions(
    predictor: Predictor,
    data: str | Path,
    *,
    baseline: str = "mean",
    class_name: str | None = None,
    steps: int = DEFAULT_STEPS,
    method: str = DEFAULT_METHOD,
    chunk_rows: int = 8192,
    keep: Sequence[str] = (),
    remote_options: Any = None,
) -> Iterator[AttributionBlock]:
    """Integrated-gradient attributions of ``data``'s rows, chunk by chunk (memory: one chunk)."""
    predictor = for_explaining(predictor)
    if method not in QUADRATURES:
        raise UsageError(
            f"{setting('method', method)} is not a quadrature rule.",
            hint=f"Use one of: {', '.join(QUADRATURES.names())}.",
        )
    if steps < 1:
        raise UsageError(f"{setting('steps')} must be at least 1, got {steps}.")
    schema = predictor.schema
    target = attribution_target(schema, class_name)
    base = resolve_baseline(predictor, baseline, remote_options=remote_options)
    split = AffineSplit(predictor.model)
    groups = feature_columns(schema)
    numeric = [j for j, f in enumerate(schema.features) if f.kind == "numeric"]
    source = data if str(data) == "-" else localize(data, remote_options=remote_options)
    reading = {"chunk_rows": chunk_rows, "dtype": str(predictor.model.dtype)}
    chunks = (
        iter_inputs_kept(source, schema, keep, **reading)  # type: ignore[arg-type]
        if keep
        else ((X, None) for X in iter_inputs(source, schema, **reading))  # type: ignore[arg-type]
    )
    floor = GAP_FLOOR * target.spread
    for X, kept in chunks:
        seeds, explained = target.seeds(split.outputs(X), schema.classes)
        result = integrated_gradients(
            split, X, base, seeds, steps=steps, method=method, tolerance=TOLERANCE, floor=floor
        )
        inputs = np.full((len(X), len(groups)), np.nan)
        for j in numeric:
            inputs[:, j] = X[:, groups[j][1].start]
        offset = np.where(explained == 0, 1.0, 0.0) if target.task == "binary" else target.offset
        yield AttributionBlock(
            group_sums(result.values, groups),
            explained,
            result.at_x + offset,
            result.at_baseline + offset,
            result.gap,
            result.steps,
            inputs,
            kept,
        )


def attribution_columns(schema: Schema, keep: Sequence[str] = ()) -> list[str]:
    """The per-row output's columns: kept IDs; the class explained and its probability at the
    row and at the baseline (regression: the prediction and the baseline's, in target units);
    one column per feature; the completeness gap."""
    features = [f.name for f in schema.features]
    if schema.is_classification:
        fixed = ["class", "probability", "baseline_probability"]
    else:
        target = schema.target or "prediction"
        fixed = [target, f"baseline_{target}"]
    taken = set(features) | set(keep)
    named = []
    for name in [*fixed, "completeness_gap"]:
        while name in taken:  # a feature may be called "class": the fixed column gives way
            name += "_"
        taken.add(name)
        named.append(name)
    return [*keep, *named[:-1], *features, named[-1]]


def block_rows(block: AttributionBlock, schema: Schema) -> np.ndarray:
    """An object array of :func:`attribution_columns` rows."""
    columns: list[np.ndarray] = [] if block.kept is None else [block.kept]
    if schema.is_classification:
        columns.append(np.asarray(schema.classes, dtype=object)[block.explained][:, None])
    columns += [block.at_x[:, None], block.at_baseline[:, None], block.values, block.gap[:, None]]
    return np.concatenate([c.astype(object) for c in columns], axis=1)


def explain_rows(
    predictor: Predictor,
    data: str | Path,
    output: Path | None,
    fmt: str | None = None,
    *,
    keep: Sequence[str] = (),
    steps: int = DEFAULT_STEPS,
    **settings: Any,
) -> AttributionSummary:
    """Write every row's attributions to ``output`` (``None``: stdout) as CSV, JSONL or Parquet
    (``fmt``, else ``output``'s suffix, else CSV); a file appears only when complete."""
    fmt = fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "csv")
    if fmt == "npy":
        raise UsageError(
            "Attributions need a format with named columns; NPY holds one array.",
            hint=f"Use {setting('format', 'csv')}, jsonl or parquet.",
        )
    predictor = for_explaining(predictor)
    schema = predictor.schema
    writer = PredictionWriter(output, fmt, attribution_columns(schema, keep))
    summary = AttributionSummary([f.name for f in schema.features])
    try:
        for block in iter_attributions(predictor, data, keep=keep, steps=steps, **settings):
            writer.write(block_rows(block, schema))
            summary.add(block, steps)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    if summary.rows == 0:
        raise DataError(f"'{data}' has no rows to explain.")
    return summary
