"""Metrics against hand-computed values (and scikit-learn when it is installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.errors import DataError
from dlcli.nn.metrics import classification_metrics, regression_metrics


def test_multiclass_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]
    )
    m = classification_metrics(y, proba, 3)
    # predicted 0, 1, 1, 1, 2, 0
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    precision = [1 / 2, 2 / 3, 1 / 1]
    recall = [1 / 2, 2 / 2, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall, strict=True)]
    assert m["precision_macro"] == pytest.approx(np.mean(precision))
    assert m["recall_macro"] == pytest.approx(np.mean(recall))
    assert m["f1_macro"] == pytest.approx(np.mean(f1))
    picked = [0.8, 0.3, 0.7, 0.8, 0.8, 0.3]  # P[i, y_i]
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(picked)))


def test_binary_single_column_and_clipping() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.4, 0.0], dtype=np.float32)  # the last is exactly 0: clipped
    m = classification_metrics(y, p, 2)
    assert m["confusion_matrix"] == [[2, 0], [1, 1]]
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["precision_macro"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["recall_macro"] == pytest.approx((1 + 1 / 2) / 2)
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 1.0]))
    assert m["log_loss"] == pytest.approx(expected, rel=1e-6)
    assert math.isfinite(classification_metrics([1], [0.0], 2)["log_loss"])
    # A (n, 1) column and float labels (as the model's targets are) give the same.
    assert classification_metrics(y.astype(float), p.reshape(-1, 1), 2) == m


def test_class_absent_from_truth_and_predictions_is_not_averaged() -> None:
    m = classification_metrics([0, 1], [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]], 3)
    assert m["f1_macro"] == 1.0 and m["confusion_matrix"][2] == [0, 0, 0]


def test_regression_by_hand() -> None:
    y = np.array([3.0, -0.5, 2.0, 7.0])
    p = np.array([2.5, 0.0, 2.0, 8.0])
    m = regression_metrics(y, p)
    assert m["mse"] == pytest.approx(0.375)  # the ordinary mean, not the 1/2 loss convention
    assert m["rmse"] == pytest.approx(math.sqrt(0.375))
    assert m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 1.5 / np.sum((y - y.mean()) ** 2))
    assert regression_metrics([1.0, 1.0], [1.0, 1.0])["r2"] == 1.0
    assert regression_metrics([1.0, 1.0], [1.0, 2.0])["r2"] == 0.0


@pytest.mark.parametrize(
    "y, proba, message",
    [
        ([0, 3], [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], r"in \[0, 3\)"),
        ([0, 1], [[0.5, 0.5]], "2 labels but 1 rows"),
        ([], np.zeros((0, 3)), "0 samples"),
        ([0.5, 1], [0.1, 0.2], "whole numbers"),
    ],
)
def test_bad_inputs_are_data_errors(y, proba, message) -> None:
    with pytest.raises(DataError, match=message):
        classification_metrics(y, proba, 3 if np.ndim(proba) == 2 and np.shape(proba)[1] == 3 else 2)


def test_agrees_with_scikit_learn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 2 * np.eye(4)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = classification_metrics(y, proba, 4)
    pred = proba.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert m["precision_macro"] == pytest.approx(sk.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == pytest.approx(sk.recall_score(y, pred, average="macro"))
    assert m["f1_macro"] == pytest.approx(sk.f1_score(y, pred, average="macro"))
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=range(4)))
    assert m["confusion_matrix"] == sk.confusion_matrix(y, pred, labels=range(4)).tolist()
    t, p = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    r = regression_metrics(t, p)
    assert r["mse"] == pytest.approx(sk.mean_squared_error(t, p))
    assert r["mae"] == pytest.approx(sk.mean_absolute_error(t, p))
    assert r["r2"] == pytest.approx(sk.r2_score(t, p))


# ---- ROC-AUC (rank statistics) and the per-class report --------------------------------------


def test_average_ranks_share_ties() -> None:
    from dlcli.nn.metrics import average_ranks

    assert average_ranks([0.3, 0.1, 0.3, 0.2, 0.3]).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_binary_roc_auc_by_hand() -> None:
    from dlcli.nn.metrics import binary_roc_auc, roc_auc

    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of the 4 pairs ordered right.
    assert binary_roc_auc([False, False, True, True], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # A positive tied with a negative counts one half: (0.5 + 1 + 1 + 1) / 4.
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9], 2)["roc_auc"] == 0.875
    assert roc_auc([1, 1, 1], [0.2, 0.5, 0.9], 2) == {"roc_auc": None, "per_class": [None, None], "skipped": [0, 1]}


def test_multiclass_roc_auc_is_the_macro_of_one_vs_rest() -> None:
    from dlcli.nn.metrics import roc_auc

    y = [0, 1, 2, 2]
    P = [[0.6, 0.3, 0.1], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]
    # Class 0: 0.6 above 0.5, 0.2, 0.1 → 1. Class 1: 0.2 below 0.3, 0.3, 0.6 → 0.
    # Class 2: positives 0.5, 0.3 against 0.1, 0.3 → (1 + 1 + 1 + 0.5) / 4.
    found = roc_auc(y, P, 3)
    assert found["per_class"] == [1.0, 0.0, 0.875] and found["skipped"] == []
    assert found["roc_auc"] == pytest.approx((1.0 + 0.0 + 0.875) / 3)


def test_roc_auc_skips_classes_absent_from_the_data() -> None:
    from dlcli.nn.metrics import roc_auc

    found = roc_auc([0, 1, 0, 1], [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.3, 0.4, 0.3], [0.6, 0.3, 0.1]], 3)
    assert found["skipped"] == [2] and found["per_class"][2] is None
    assert found["roc_auc"] == pytest.approx(np.mean(found["per_class"][:2]))


def test_roc_auc_streamed_equals_one_pass() -> None:
    from dlcli.nn.metrics import ClassificationStream, roc_auc

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    P = rng.dirichlet(np.ones(3), 300)
    stream, other = ClassificationStream(3, keep_scores=True), ClassificationStream(3, keep_scores=True)
    stream.update(y[:100], P[:100])
    other.update(y[100:], P[100:])
    stream.merge(other)
    assert stream.report()["roc_auc"] == roc_auc(y, P, 3)
    assert ClassificationStream(3).report()["roc_auc"] is None  # training's passes keep no scores


def test_class_report_by_hand() -> None:
    from dlcli.nn.metrics import class_report

    # True 0: 2 right, 1 called 1; true 1: 1 right; nothing true 2, one predicted 2.
    report = class_report([[2, 1, 0], [0, 1, 1], [0, 0, 0]])
    assert report[0] == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": pytest.approx(0.8), "support": 3}
    assert report[1] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report[2] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_roc_auc_and_report_match_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from dlcli.nn.metrics import class_report, confusion_matrix, roc_auc

    rng = np.random.default_rng(7)
    y = rng.integers(0, 4, 500)
    P = np.round(rng.dirichlet(np.ones(4), 500), 2)  # rounded: plenty of ties
    P /= P.sum(axis=1, keepdims=True)
    expected = sklearn_metrics.roc_auc_score(y, P, multi_class="ovr", average="macro")
    assert roc_auc(y, P, 4)["roc_auc"] == pytest.approx(expected)
    assert roc_auc(y % 2, P[:, 1], 2)["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(y % 2, P[:, 1]))
    predicted = P.argmax(axis=1)
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(y, predicted, zero_division=0)
    report = class_report(confusion_matrix(y, predicted, 4))
    assert [r["precision"] for r in report] == pytest.approx(precision.tolist())
    assert [r["recall"] for r in report] == pytest.approx(recall.tolist())
    assert [r["f1"] for r in report] == pytest.approx(f1.tolist())
    assert [r["support"] for r in report] == support.tolist()
