"""Validation split (shuffled, stratified)."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.data.splits import train_val_indices, train_val_split
from dlcli.errors import ConfigError


def test_stratified_split_keeps_class_proportions() -> None:
    y = np.repeat([0, 1, 2], [100, 50, 10])
    X = np.arange(len(y), dtype=float).reshape(-1, 1)
    Xt, yt, Xv, yv = train_val_split(X, y, 0.2, np.random.default_rng(0), stratify=True)
    assert len(yv) == 32 and len(yt) == 128
    assert np.bincount(yv).tolist() == [20, 10, 2]
    assert np.bincount(yt).tolist() == [80, 40, 8]
    # Rows stay paired with their targets, every row lands exactly once, order is shuffled.
    assert np.array_equal(y[Xt[:, 0].astype(int)], yt)
    assert sorted(np.concatenate([Xt[:, 0], Xv[:, 0]]).tolist()) == X[:, 0].tolist()
    assert not np.all(np.diff(yv) >= 0)


def test_stratified_with_string_labels_and_one_hot() -> None:
    y = np.array(["a"] * 9 + ["b"] * 3)
    _, _, _, yv = train_val_split(np.zeros((12, 1)), y, 0.25, np.random.default_rng(1), True)
    assert sorted(yv.tolist()) == ["a", "a", "b"]
    onehot = np.eye(2)[[0] * 9 + [1] * 3]
    _, _, _, yv = train_val_split(np.zeros((12, 1)), onehot, 0.25, np.random.default_rng(1), True)
    assert yv.sum(axis=0).tolist() == [2, 1]


def test_split_is_a_function_of_the_generator() -> None:
    X, y = np.arange(20.0).reshape(-1, 1), np.arange(20) % 2
    a = train_val_split(X, y, 0.3, np.random.default_rng(5), stratify=False)
    b = train_val_split(X, y, 0.3, np.random.default_rng(5), stratify=False)
    c = train_val_split(X, y, 0.3, np.random.default_rng(6), stratify=False)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])
    assert len(a[2]) == 6


def test_zero_fraction_and_bad_fraction() -> None:
    Xt, _, Xv, _ = train_val_split(np.zeros((5, 1)), np.zeros(5), 0.0, np.random.default_rng(0), True)
    assert len(Xt) == 5 and len(Xv) == 0
    with pytest.raises(ConfigError, match=r"val_fraction must be in \[0, 1\), got 1.5"):
        train_val_split(np.zeros((5, 1)), np.zeros(5), 1.5, np.random.default_rng(0), False)


def test_indices_match_the_array_split() -> None:
    y = np.repeat([0, 1], [12, 8])
    train_idx, val_idx = train_val_indices(y, 0.25, np.random.default_rng(4), stratify=True)
    Xt, _, Xv, _ = train_val_split(np.arange(20).reshape(-1, 1), y, 0.25, np.random.default_rng(4), True)
    assert np.array_equal(Xt[:, 0], train_idx) and np.array_equal(Xv[:, 0], val_idx)
