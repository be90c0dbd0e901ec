"""Permutation importance per original feature (Breiman 2001; scikit-learn's
``permutation_importance``): how much the model's main metric drops, and its loss rises, when
one feature's values are shuffled across rows, over ``repeats`` seeded shuffles.

A categorical feature's one-hot columns are shuffled together, as one feature. The rows are
the data's, or a uniform sample of ``sample`` of them drawn while streaming (memory: the
sample). The model's first layers up to the first Dense's pre-activation are affine, so the
head ``Z = X @ A + b`` is computed once and a shuffle of feature ``cols`` only reorders its
share ``P = X[:, cols] @ A[cols]``: the shuffled head is ``Z - P + P[order]``, a gather of rows
instead of a pass of the whole input layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.sources import iter_labelled
from dlcli.errors import DataError, UsageError, setting
from dlcli.nn.attribution import AffineSplit

from .explain import feature_columns, for_explaining
from .inference import Predictor, localize

DEFAULT_REPEATS = 5
DEFAULT_SAMPLE = 100_000
BATCH_ROWS = 4096  # rows per pass of the network's tail: its arrays stay in cache


@dataclass
class Importance:
    """Per feature (sorted by ``drop``, largest first): the mean and standard deviation over
    the repeats of the metric's drop and the loss's rise."""

    metric: str
    baseline_metric: float
    baseline_loss: float
    rows: int
    total_rows: int
    repeats: int
    features: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "baseline": {self.metric: self.baseline_metric, "loss": self.baseline_loss},
            "rows": self.rows,
            "total_rows": self.total_rows,
            "repeats": self.repeats,
            "features": self.features,
        }


def sample_rows(chunks: Any, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """A uniform sample of at most ``size`` rows of ``(X, y)`` chunks, and the rows seen.

    Each row gets a uniform random key and the ``size`` smallest keys are kept (a reservoir
    by keys), so memory is the sample plus one chunk, whatever the data's length.
    """
    kept_X: np.ndarray | None = None
    kept_y: np.ndarray | None = None
    keys = np.empty(0)
    seen = 0
    for X, y in chunks:
        seen += len(X)
        chunk_keys = rng.random(len(X))
        if kept_X is None:
            kept_X, kept_y, keys = X, y, chunk_keys
        else:
            kept_X, kept_y = np.concatenate([kept_X, X]), np.concatenate([kept_y, y])
            keys = np.concatenate([keys, chunk_keys])
        if len(keys) > size:
            chosen = np.sort(np.argpartition(keys, size)[:size])  # sorted: the data's order stays
            kept_X, kept_y, keys = kept_X[chosen], kept_y[chosen], keys[chosen]
    if kept_X is None or kept_y is None or seen == 0:
        raise DataError("There are no rows to explain.")
    return kept_X, kept_y, seen


class _Scorer:
    """The main metric and the loss of outputs against fixed targets."""

    def __init__(self, predictor: Predictor, y: np.ndarray) -> None:
        self.model, self.schema = predictor.model, predictor.schema
        self.targets = self.model.loss.prepare_targets(y, self.model.output_dim, self.model.dtype)
        self.y = y
        self.metric = "accuracy" if self.schema.is_classification else "r2"
        if not self.schema.is_classification:
            values = y.reshape(-1).astype(np.float64)
            self.total = float(np.sum((values - values.mean()) ** 2))

    def __call__(self, outputs: np.ndarray) -> tuple[float, float]:
        loss = float(self.model.loss(outputs, self.targets))
        if self.schema.task == "binary":
            return float(np.mean((outputs[:, 0] >= 0.5) == self.y)), loss
        if self.schema.task == "multiclass":
            return float(np.mean(np.argmax(outputs, axis=1) == self.y)), loss
        residual = float(np.sum((outputs.reshape(-1).astype(np.float64) - self.y.reshape(-1)) ** 2))
        # R² is the same in scaled and original units; a constant target has none to explain.
        r2 = 1.0 - residual / self.total if self.total > 0 else float(residual == 0)
        return r2, loss


def permutation_importance(
    predictor: Predictor,
    data: str | Path,
    *,
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    sample: int = DEFAULT_SAMPLE,
    remote_options: Any = None,
) -> Importance:
    """Permutation importance of every original feature of ``predictor`` on labelled ``data``."""
    if repeats < 1:
        raise UsageError(f"{setting('repeats')} must be at least 1, got {repeats}.")
    if sample < 2:
        raise UsageError(f"{setting('sample')} must be at least 2 rows, got {sample}.")
    predictor = for_explaining(predictor)
    local = localize(data, remote_options=remote_options)
    dtype = str(predictor.model.dtype)
    chunks = iter_labelled(local, predictor.schema, chunk_rows=65536, dtype=dtype)
    X, y, seen = sample_rows(chunks, sample, np.random.default_rng([seed, 0]))
    split = AffineSplit(predictor.model)
    matrix, offset = split.affine()
    Z = X @ matrix + offset  # the head for every row at once: one product, kept for every shuffle
    score = _Scorer(predictor, y)
    base_metric, base_loss = score(_outputs(split, Z))
    results: list[dict[str, Any]] = []
    for j, (name, columns) in enumerate(feature_columns(predictor.schema)):
        rng = np.random.default_rng([seed, 1, j])  # per feature: adding a feature reorders nothing
        drops, rises = [], []
        part = X[:, columns] @ matrix[columns]
        for _ in range(repeats):
            metric, loss = score(_outputs(split, Z, part, rng.permutation(len(X))))
            drops.append(base_metric - metric)
            rises.append(loss - base_loss)
        results.append(
            {
                "feature": name,
                "drop": float(np.mean(drops)),
                "drop_std": float(np.std(drops)),
                "loss_rise": float(np.mean(rises)),
                "loss_rise_std": float(np.std(rises)),
            }
        )
    results.sort(key=lambda row: (-row["drop"], -row["loss_rise"]))
    return Importance(score.metric, base_metric, base_loss, len(X), seen, repeats, results)


def _outputs(
    split: AffineSplit, Z: np.ndarray, part: np.ndarray | None = None, order: np.ndarray | None = None
) -> np.ndarray:
    """The model's outputs from its head ``Z``, batch by batch in a cache-sized buffer; with
    ``part`` and ``order``, with one feature's values taken from the rows ``order``: ``part`` is
    that feature's share of the head, ``X[:, columns] @ matrix[columns]``, so the shuffled head
    is ``Z - part + part[order]`` (no product and no copy of the whole ``Z`` per shuffle)."""
    out = np.empty((len(Z), split.model.output_dim), dtype=split.model.dtype)
    for start in range(0, len(Z), BATCH_ROWS):
        stop = min(start + BATCH_ROWS, len(Z))
        if part is None or order is None:
            batch = np.array(Z[start:stop], copy=True)  # the tail may work in place
        else:
            batch = np.take(part, order[start:stop], axis=0)
            batch += Z[start:stop]
            batch -= part[start:stop]
        out[start:stop] = split.tail(batch)
    return out
