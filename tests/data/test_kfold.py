"""k-fold cross-validation splits: a partition, stratified, drawn only from the generator."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.data.splits import kfold_indices
from dlcli.errors import ConfigError


@pytest.mark.parametrize("stratify", [False, True])
def test_every_row_is_validated_exactly_once(stratify: bool) -> None:
    y = np.array([0] * 50 + [1] * 30 + [2] * 23)
    folds = kfold_indices(y, 5, np.random.default_rng(0), stratify)
    validated = np.concatenate([val for _, val in folds])
    assert sorted(validated) == list(range(len(y)))
    for train, val in folds:
        assert not set(train) & set(val) and len(train) + len(val) == len(y)
    assert max(len(v) for _, v in folds) - min(len(v) for _, v in folds) <= 1


def test_stratified_folds_keep_each_class_share_to_one_row() -> None:
    y = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 7)
    for _, val in kfold_indices(y, 3, np.random.default_rng(1), stratify=True):
        for label, total in (("a", 50), ("b", 30), ("c", 7)):
            assert abs((y[val] == label).sum() - total / 3) < 1


def test_one_hot_targets_stratify_by_class_and_the_seed_decides() -> None:
    y = np.eye(3)[np.arange(36) % 3]
    a = kfold_indices(y, 3, np.random.default_rng(2), stratify=True)
    b = kfold_indices(y, 3, np.random.default_rng(2), stratify=True)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b, strict=True))
    assert all(np.bincount(y[val].argmax(1), minlength=3).tolist() == [4, 4, 4] for _, val in a)


@pytest.mark.parametrize("k", [1, 11])
def test_fold_count_must_fit_the_rows(k: int) -> None:
    with pytest.raises(ConfigError, match="Cross-validation needs 2 to 10 folds"):
        kfold_indices(np.arange(10), k, np.random.default_rng(0), stratify=False)
