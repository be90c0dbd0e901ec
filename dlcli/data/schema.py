"""The fitted preprocessing that travels inside the model file.

A :class:`Schema` turns raw columns into the model's input matrix (numeric columns with
missing cells filled by the training mean; string columns one-hot encoded, unknown
categories all-zero) and turns targets into what the loss wants (class indices, or
standardised values for regression). Numeric standardisation itself is the model's first
layer (a Keras ``Normalization``), so it is not here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcli.data.csvtable import MISSING, Table, first_non_numeric, parse_numeric
from dlcli.errors import DataError

SCHEMA_VERSION = 1
MAX_AUTO_CLASSES = 20  # integer targets with at most this many values are class labels


@dataclass
class Feature:
    name: str
    kind: str  # "numeric" or "categorical"
    fill: float = 0.0  # training mean, used for missing numeric cells
    categories: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.categories) if self.kind == "categorical" else 1


@dataclass
class Schema:
    """How raw data maps to model inputs and outputs.

    ``task`` is ``binary``, ``multiclass`` or ``regression``; ``classes`` are the original
    class labels (index = model output); ``target_mean``/``target_std`` undo the
    regression target scaling when ``target_scaled`` is true.
    """

    task: str
    features: list[Feature]
    target: str
    classes: list[Any] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    target_scaled: bool = False

    @property
    def n_inputs(self) -> int:
        return sum(f.width for f in self.features)

    @property
    def n_outputs(self) -> int:
        if self.task == "multiclass":
            return len(self.classes)
        return 1

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "target_scaled": self.target_scaled,
            "features": [
                {"name": f.name, "kind": f.kind, "fill": f.fill, "categories": f.categories} for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        try:
            features = [
                Feature(f["name"], f["kind"], float(f.get("fill", 0.0)), list(f.get("categories", [])))
                for f in data["features"]
            ]
            return cls(
                task=data["task"],
                features=features,
                target=data.get("target", ""),
                classes=list(data.get("classes", [])),
                target_mean=float(data.get("target_mean", 0.0)),
                target_std=float(data.get("target_std", 1.0)),
                target_scaled=bool(data.get("target_scaled", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"The model's preprocessing schema is malformed ({exc}).") from None

    # ---- inputs -------------------------------------------------------------------------

    def encode_table(self, table: Table, dtype: Any = np.float32) -> np.ndarray:
        """Raw table columns → ``(n_rows, n_inputs)`` model inputs."""
        out = np.empty((table.n_rows, self.n_inputs), dtype=dtype)
        col = 0
        for feature in self.features:
            values = _column(table, feature.name, role="required by the model")
            if feature.kind == "numeric":
                out[:, col] = _numeric(values, table, feature)
            else:
                out[:, col : col + feature.width] = _one_hot(values, feature.categories)
            col += feature.width
        return out

    def encode_array(self, X: np.ndarray, source: str, dtype: Any = np.float32) -> np.ndarray:
        """A numeric ``(n, k)`` array → model inputs (only for all-numeric schemas)."""
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2:
            raise DataError(f"{source}: expected a 2-D array (n_samples, n_features), got shape {X.shape}.")
        if any(f.kind != "numeric" for f in self.features):
            raise DataError(f"{source}: this model has categorical inputs, so it needs CSV data with named columns.")
        if X.shape[1] != len(self.features):
            raise DataError(
                f"{source}: the model expects {len(self.features)} features, the data has {X.shape[1]}.",
                hint="Pass data with the same columns the model was trained on (see 'dlcli inspect MODEL').",
            )
        X = X.astype(dtype, copy=True)
        fills = np.array([f.fill for f in self.features], dtype=dtype)
        missing = np.isnan(X)
        if missing.any():
            X[missing] = np.broadcast_to(fills, X.shape)[missing]
        return X

    # ---- targets ------------------------------------------------------------------------

    def encode_target(self, values: np.ndarray, source: str) -> np.ndarray:
        """Raw target values → class indices ``(n,)`` int64, or ``(n, 1)`` floats."""
        if self.is_classification:
            lookup = {str(c): i for i, c in enumerate(self.classes)}
            keys = [label_key(v) for v in values]
            unknown = sorted({k for k in keys if k not in lookup})
            if unknown:
                raise DataError(
                    f"{source}: target '{self.target}' has label(s) the model does not know: {', '.join(unknown[:5])}.",
                    hint=f"The model's classes are: {', '.join(map(str, self.classes))}.",
                )
            return np.array([lookup[k] for k in keys], dtype=np.int64)
        numeric = values if values.dtype.kind in "fiu" else parse_numeric(values.astype(str))
        if numeric is None or np.isnan(numeric.astype(np.float64)).any():
            raise DataError(f"{source}: target '{self.target}' must be numeric with no missing values for regression.")
        y = numeric.astype(np.float64).reshape(-1, 1)
        if self.target_scaled:
            y = (y - self.target_mean) / self.target_std
        return y

    def decode_output(self, output: np.ndarray) -> np.ndarray:
        """Model outputs → labels (classification) or values in original units (regression)."""
        if self.task == "binary":
            labels: np.ndarray = np.asarray(self.classes, dtype=object)[(output.reshape(-1) >= 0.5).astype(int)]
            return labels
        if self.task == "multiclass":
            labels = np.asarray(self.classes, dtype=object)[np.argmax(output, axis=1)]
            return labels
        return self.unscale(output).reshape(len(output), -1)[:, 0]

    def unscale(self, output: np.ndarray) -> np.ndarray:
        return output * self.target_std + self.target_mean if self.target_scaled else output

    def probabilities(self, output: np.ndarray) -> np.ndarray:
        """``(n, n_classes)`` probabilities from model outputs."""
        if self.task == "binary":
            p = output.reshape(-1, 1)
            return np.hstack([1.0 - p, p])
        return output


def fit_schema(
    table: Table, target: str, task: str = "auto", features: list[str] | None = None, ignore: list[str] | None = None
) -> Schema:
    """Infer features, their kinds and the task from a training table."""
    target_values = _column(table, target, role="given as the target")
    names = features or [n for n in table.header if n != target and n not in (ignore or [])]
    for name in ignore or []:
        _column(table, name, role="listed in data.ignore")
    fitted = [_fit_feature(table, name) for name in names]
    if not fitted:
        raise DataError(f"{table.source}: no feature columns left besides the target '{target}'.")
    schema = Schema(task="regression", features=fitted, target=target)
    _fit_target(schema, target_values, table.source, task)
    return schema


def fit_array_schema(X: np.ndarray, y: np.ndarray, source: str, task: str = "auto") -> Schema:
    """A schema for numeric arrays (NPY/NPZ/HDF5): features ``x0 … xk``."""
    if X.ndim != 2:
        raise DataError(f"{source}: X must be 2-D (n_samples, n_features), got shape {X.shape}.")
    if len(X) != len(y):
        raise DataError(f"{source}: X has {len(X)} rows but y has {len(y)}.")
    with np.errstate(all="ignore"):
        fills = np.nan_to_num(np.nanmean(X.astype(np.float64), axis=0))
    schema = Schema("regression", [Feature(f"x{i}", "numeric", float(fills[i])) for i in range(X.shape[1])], "y")
    _fit_target(schema, np.asarray(y).reshape(len(y), -1)[:, 0] if np.ndim(y) > 1 else np.asarray(y), source, task)
    return schema


def _fit_feature(table: Table, name: str) -> Feature:
    values = _column(table, name, role="listed in data.features")
    numeric = parse_numeric(values)
    if numeric is not None:
        fill = float(np.nanmean(numeric)) if not np.isnan(numeric).all() else 0.0
        return Feature(name, "numeric", fill=fill)
    categories = sorted({v for v in values.tolist() if v})
    return Feature(name, "categorical", categories=categories)


def _fit_target(schema: Schema, values: np.ndarray, source: str, task: str) -> None:
    numeric = parse_numeric(values) if values.dtype.kind in "US" else values.astype(np.float64)
    if values.dtype.kind in "US" and np.isin(np.char.lower(values), MISSING).any():
        row = int(np.argmax(np.isin(np.char.lower(values), MISSING)))
        raise DataError(
            f"{source}: target '{schema.target}' is missing in data row {row + 1}.",
            hint="Drop rows without a target, or fill them in.",
        )
    if task == "auto":
        task = _infer_task(numeric)
    if task == "classification":
        task = "binary" if len({label_key(v) for v in values}) == 2 else "multiclass"
    schema.task = task
    if task == "regression":
        if numeric is None:
            bad = values[first_non_numeric(values)]
            raise DataError(
                f"{source}: target '{schema.target}' has non-numeric value '{bad}', so it cannot be regressed.",
                hint="Use --set data.task=multiclass for class labels.",
            )
        schema.target_mean, schema.target_std = float(numeric.mean()), float(numeric.std() or 1.0)
        schema.target_scaled = True
        return
    labels = sorted({label_key(v) for v in values}, key=_sort_key)
    schema.classes = [_label_value(v) for v in labels]
    if len(labels) < 2:
        raise DataError(f"{source}: target '{schema.target}' has a single class ({labels[0]}); nothing to learn.")
    if task == "binary" and len(labels) != 2:
        raise DataError(
            f"{source}: data.task is binary but target '{schema.target}' has {len(labels)} classes.",
            hint="Use --set data.task=multiclass.",
        )


def _infer_task(numeric: np.ndarray | None) -> str:
    if numeric is None:
        return "classification"
    distinct = np.unique(numeric)
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_AUTO_CLASSES:
        return "binary" if len(distinct) == 2 else ("multiclass" if len(distinct) > 2 else "regression")
    return "regression"


def label_key(value: Any) -> str:
    """One spelling per label: '1', '1.0' and 1 are the same class."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _label_value(key: str) -> Any:
    try:
        return int(key)
    except ValueError:
        return key


def _sort_key(key: str) -> tuple[int, Any]:
    try:
        return (0, float(key))
    except ValueError:
        return (1, key)


def _column(table: Table, name: str, role: str) -> np.ndarray:
    if name in table.columns:
        return table.columns[name]
    close = difflib.get_close_matches(name, table.header, n=1)
    hint = f"Did you mean '{close[0]}'?" if close else f"Columns are: {', '.join(table.header)}."
    raise DataError(f"Column '{name}' {role} is not in {table.source}.", hint=hint)


def _numeric(values: np.ndarray, table: Table, feature: Feature) -> np.ndarray:
    parsed = parse_numeric(values)
    if parsed is None:
        i = first_non_numeric(values)
        raise DataError(
            f"{table.source}, line {table.first_line + i}: column '{feature.name}' must be numeric, "
            f"found '{values[i]}'.",
            hint="Fix the value, or retrain if the column is categorical.",
        )
    return np.where(np.isnan(parsed), feature.fill, parsed)


def _one_hot(values: np.ndarray, categories: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(values), len(categories)))
    for row, value in enumerate(values.tolist()):
        i = index.get(value)
        if i is not None:  # unknown categories encode as all zeros
            out[row, i] = 1.0
    return out
