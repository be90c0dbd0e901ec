"""The fitted preprocessing that travels inside the model file.

A :class:`Schema` turns raw columns into the model's input matrix (numeric columns with
missing cells filled by the training mean; string columns one-hot encoded, unknown
categories all-zero) and turns targets into what the loss wants (class indices, or
standardised values for regression). Numeric standardisation itself is the model's first
layer (a Keras ``Normalization``), so it is not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcli.data.columns import Target
from dlcli.errors import DataError
from dlcli.nn.tasks import TASKS

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
            if data["task"] not in TASKS:
                raise ValueError(f"unknown task {data['task']!r}")
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

    # ---- targets ------------------------------------------------------------------------

    def encode_target(self, target: Target, source: str) -> np.ndarray:
        """A raw target column → class indices ``(n,)`` int64, or ``(n, 1)`` float64 (scaled)."""
        if target.missing.any():
            row = int(np.argmax(target.missing))
            raise DataError(
                f"{source}: target '{self.target}' is missing in data row {row + 1}.",
                hint="Drop rows without a target, or fill them in.",
            )
        if self.is_classification:
            lookup = {label_key(c): i for i, c in enumerate(self.classes)}
            keys, inverse = label_keys(target)
            unknown = sorted(k for k in keys if k not in lookup)
            if unknown:
                raise DataError(
                    f"{source}: target '{self.target}' has label(s) the model does not know: {', '.join(unknown[:5])}.",
                    hint=f"The model's classes are: {', '.join(map(str, self.classes))}.",
                )
            index = np.array([lookup[k] for k in keys], dtype=np.int64)
            encoded: np.ndarray = index[inverse]
            return encoded
        if target.dictionary is not None:
            bad = target.dictionary[int(target.values[0])] if len(target.values) else ""
            raise DataError(f"{source}: target '{self.target}' must be numeric for regression, found '{bad}'.")
        y = target.values.astype(np.float64).reshape(-1, 1)
        if self.target_scaled:
            y = (y - self.target_mean) / self.target_std
        return y

    def decode_output(self, output: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Model outputs → labels (classification) or values in original units (regression);
        a binary model predicts its second class where the probability is ``>= threshold``."""
        if self.task == "binary":
            chosen = (output.reshape(-1) >= threshold).astype(int)
            labels: np.ndarray = np.asarray(self.classes, dtype=object)[chosen]
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


def label_keys(target: Target) -> tuple[list[str], np.ndarray]:
    """The distinct labels of a target column (as :func:`label_key` spells them) and, per row,
    the index of its label: one ``label_key`` call per distinct value, not per row."""
    if target.labels is not None:
        return target.labels
    if target.dictionary is not None:
        raw_keys = [label_key(v) for v in target.dictionary]
        codes = target.values
    else:
        distinct, codes = np.unique(target.values, return_inverse=True)
        raw_keys = [label_key(_number_text(v)) for v in distinct.tolist()]
    keys = sorted(set(raw_keys))
    position = {k: i for i, k in enumerate(keys)}
    # int32: one per row, kept with the target for the split and the encoding.
    remap = np.array([position[k] for k in raw_keys] or [0], dtype=np.int32)
    inverse: np.ndarray = remap[codes]
    target.labels = (keys, inverse)
    return keys, inverse


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
