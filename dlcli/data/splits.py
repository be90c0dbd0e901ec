"""Validation splits (shuffled, stratified for classes), drawn only from the generator passed in."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.errors import ConfigError, DataError


def train_val_split(
    X: Any, y: Any, val_fraction: float, rng: np.random.Generator, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split rows into training and validation parts.

    Parameters
    ----------
    X : array ``(n_samples, n_features)``
    y : array ``(n_samples,)`` or ``(n_samples, k)``
        With ``stratify``, class labels (integers, strings) or one-hot rows.
    val_fraction : float in ``[0, 1)``
        Share of rows for validation, rounded to a whole number of rows; 0 gives empty
        validation arrays.
    rng : np.random.Generator
        The only source of randomness.
    stratify : bool
        Keep each class's share the same in both parts (classification).

    Returns
    -------
    X_train, y_train, X_val, y_val : arrays, rows in shuffled order
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(y) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y)}.")
    train_idx, val_idx = train_val_indices(y, val_fraction, rng, stratify)
    return X[train_idx], y[train_idx], X[val_idx], y[val_idx]


def train_val_indices(
    y: Any, val_fraction: float, rng: np.random.Generator, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train_idx, val_idx)`` of the split :func:`train_val_split` makes.

    For callers that split several parallel columns (a table) rather than one ``X``.
    """
    y = np.asarray(y)
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    if stratify:
        return _stratified_indices(_class_keys(y), float(val_fraction), rng)
    order = rng.permutation(len(y))
    n_val = _val_count(len(y), float(val_fraction))
    return order[n_val:], order[:n_val]


def _val_count(n: int, fraction: float) -> int:
    """Rows for validation: rounded, but at least one and leaving one for training."""
    if fraction == 0.0 or n < 2:
        return 0
    return min(n - 1, max(1, round(fraction * n)))


def _class_keys(y: np.ndarray) -> np.ndarray:
    """One hashable label per row: one-hot rows become their argmax."""
    if y.ndim == 2 and y.shape[1] > 1:
        keys: np.ndarray = np.argmax(y, axis=1)
        return keys
    return y.reshape(len(y))


def _stratified_indices(keys: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-class validation counts by largest remainder, so the total matches the
    unstratified count and every class keeps its share to within one row."""
    classes, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    n_val = _val_count(len(keys), fraction)
    exact = counts * (n_val / len(keys)) if len(keys) else counts * 0.0
    per_class = np.floor(exact).astype(np.int64)
    # Hand the leftover rows to the classes with the largest fractional parts (stable order).
    leftover = n_val - int(per_class.sum())
    order = np.argsort(-(exact - per_class), kind="stable")
    per_class[order[:leftover]] += 1
    val_parts, train_parts = [], []
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(inverse == c))
        val_parts.append(rows[: per_class[c]])
        train_parts.append(rows[per_class[c] :])
    # Shuffle the concatenations so rows of one class are not grouped together.
    val_idx = rng.permutation(np.concatenate(val_parts)) if val_parts else np.empty(0, np.int64)
    train_idx = rng.permutation(np.concatenate(train_parts)) if train_parts else np.empty(0, np.int64)
    return train_idx, val_idx


def kfold_indices(y: Any, k: int, rng: np.random.Generator, stratify: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` shuffled folds as ``(train_idx, val_idx)`` pairs, each row validated exactly once.

    With ``stratify`` (classification), each class's rows are dealt round the folds in turn
    from a shuffled order, so every fold holds each class's share to within one row (as
    scikit-learn's ``StratifiedKFold``).
    """
    y = np.asarray(y)
    n = len(y)
    if not 2 <= k <= n:
        raise ConfigError(f"Cross-validation needs 2 to {n} folds (one row each at least), got {k}.")
    fold_of = np.empty(n, dtype=np.int64)
    if stratify:
        keys = _class_keys(y)
        start = 0
        for label in np.unique(keys):
            rows = rng.permutation(np.flatnonzero(keys == label))
            # Continue the round from where the last class stopped: the folds stay near-equal.
            fold_of[rows] = (start + np.arange(len(rows))) % k
            start = (start + len(rows)) % k
    else:
        fold_of[rng.permutation(n)] = np.arange(n) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
