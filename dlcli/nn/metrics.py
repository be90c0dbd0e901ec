"""Evaluation metrics for classification and regression, in plain NumPy.

Definitions follow scikit-learn's defaults so numbers can be compared with it: macro
averages are unweighted means over the classes that occur in ``y_true`` or in the
predictions, a precision or recall with a zero denominator counts as 0, and ``r2`` of a
constant target is 1.0 for a perfect fit and 0.0 otherwise. ``mse`` here is the ordinary
mean squared error (not the 1/(2n) training-loss convention of ``dlcli.nn.losses``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.errors import DataError

LOG_LOSS_EPSILON = 1e-15  # probabilities are clipped to [eps, 1 - eps] before the log


def classification_metrics(y_true: Any, proba: Any, n_classes: int) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1, log-loss and the confusion matrix.

    Parameters
    ----------
    y_true : array ``(n_samples,)`` (or ``(n_samples, 1)``)
        Integer class labels in ``[0, n_classes)``; ``(n_samples, n_classes)`` one-hot rows
        are accepted too.
    proba : array ``(n_samples, n_classes)``, or ``(n_samples,)`` / ``(n_samples, 1)`` for binary
        Predicted class probabilities; for binary a single column is P(class 1).
    n_classes : int
        Number of classes (2 for binary).

    Returns
    -------
    dict
        ``accuracy``, ``precision_macro``, ``recall_macro``, ``f1_macro``, ``log_loss``
        (floats) and ``confusion_matrix`` (list of ``n_classes`` lists; rows are true
        classes, columns predicted ones).

    Raises
    ------
    DataError
        On empty input, mismatched lengths, bad shapes or labels out of range.
    """
    n_classes = int(n_classes)
    if n_classes < 2:
        raise DataError(f"n_classes must be >= 2, got {n_classes}.")
    labels = _labels(y_true, n_classes)
    P = _class_probabilities(proba, n_classes, len(labels))
    predicted = np.argmax(P, axis=1)
    matrix = confusion_matrix(labels, predicted, n_classes)
    precision, recall, f1 = _macro_scores(matrix)
    picked = np.clip(P[np.arange(len(labels)), labels], LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
    return {
        "accuracy": float(np.trace(matrix) / len(labels)),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "log_loss": float(-np.mean(np.log(picked))),
        "confusion_matrix": matrix.tolist(),
    }


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """MSE, RMSE, MAE and R² of predictions.

    Parameters
    ----------
    y_true, y_pred : arrays ``(n_samples,)`` or ``(n_samples, n_outputs)``, same shape
        after flattening a trailing unit axis.

    Returns
    -------
    dict
        ``mse`` (ordinary mean of squared errors over all values), ``rmse``, ``mae`` and
        ``r2`` (per output, then averaged uniformly over outputs, as scikit-learn does).
    """
    t = _as_2d(y_true, "y_true")
    p = _as_2d(y_pred, "y_pred")
    if t.shape != p.shape:
        raise DataError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}.")
    if t.shape[0] == 0:
        raise DataError("Cannot compute metrics on 0 samples.")
    residual = t - p
    mse = float(np.mean(residual**2))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(residual))), "r2": _r2(t, residual)}


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` int64 counts; entry ``[i, j]`` = true ``i`` predicted ``j``."""
    flat = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def _macro_scores(matrix: np.ndarray) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over classes seen in the truth or the predictions."""
    precision, recall, f1, support = _class_scores(matrix)
    present = (matrix.sum(axis=0) + support) > 0  # a class absent from both would only drag the mean to 0
    return (float(precision[present].mean()), float(recall[present].mean()), float(f1[present].mean()))


def _class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (0 where a denominator is 0) and support (true rows)."""
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return precision, recall, f1, actual.astype(np.int64)


def class_report(matrix: Any) -> list[dict[str, float | int]]:
    """Precision, recall, F1 and support of each class, from a confusion matrix.

    Parameters
    ----------
    matrix : array ``(n_classes, n_classes)``
        Counts; rows are true classes, columns predicted ones.

    Returns
    -------
    list of dict
        One per class, in class order: ``precision``, ``recall``, ``f1`` (floats, 0.0 where
        scikit-learn's ``zero_division=0`` would give 0) and ``support`` (true rows, int).
    """
    precision, recall, f1, support = _class_scores(np.asarray(matrix, dtype=np.int64))
    return [
        {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for p, r, f, n in zip(precision, recall, f1, support, strict=True)
    ]


def average_ranks(values: Any) -> np.ndarray:
    """Ranks 1…n of ``values`` ``(n,)``, ties given the mean of the ranks they span (float64)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(v, kind="mergesort")
    ordered = v[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))  # where each run of ties starts
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(v))
    mean_rank = (starts + 1 + ends) / 2.0  # mean of the ranks starts+1 … ends
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = mean_rank[np.cumsum(first) - 1]
    return ranks


def binary_roc_auc(positive: Any, scores: Any) -> float | None:
    """Area under the ROC curve as the Mann–Whitney statistic: the probability that a random
    positive scores above a random negative, ties counting one half.

    Parameters
    ----------
    positive : array of bool ``(n,)``
        Which rows belong to the positive class.
    scores : array ``(n,)``
        Higher means more likely positive.

    Returns
    -------
    float or None
        ``None`` when either class has no rows (the area is undefined).
    """
    is_positive = np.asarray(positive, dtype=bool).reshape(-1)
    n_pos = int(is_positive.sum())
    n_neg = len(is_positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = float(average_ranks(scores)[is_positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def roc_auc(y_true: Any, proba: Any, n_classes: int) -> dict[str, Any]:
    """ROC-AUC: of P(class 1) for binary, one-vs-rest macro (unweighted mean) for multi-class.

    Parameters are those of :func:`classification_metrics`.

    Returns
    -------
    dict
        ``roc_auc`` (float, or ``None`` when no class can be scored), ``per_class`` (each
        class's one-vs-rest area or ``None``) and ``skipped`` (class indices left out of the
        mean because the data holds none of them, or only them).
    """
    n_classes = int(n_classes)
    labels = _labels(y_true, n_classes)
    P = _class_probabilities(proba, n_classes, len(labels))
    if n_classes == 2:
        area = binary_roc_auc(labels == 1, P[:, 1])
        return {"roc_auc": area, "per_class": [area, area], "skipped": [] if area is not None else [0, 1]}
    per_class = [binary_roc_auc(labels == c, P[:, c]) for c in range(n_classes)]
    scored = [a for a in per_class if a is not None]
    return {
        "roc_auc": float(np.mean(scored)) if scored else None,
        "per_class": per_class,
        "skipped": [c for c, a in enumerate(per_class) if a is None],
    }


def _labels(y_true: Any, n_classes: int) -> np.ndarray:
    """Integer labels ``(n,)`` from labels, a ``(n, 1)`` column or one-hot rows."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == n_classes:  # one-hot rows
        y = np.argmax(y, axis=1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"Class labels must have shape (n,), got {np.shape(y_true)}.")
    if y.shape[0] == 0:
        raise DataError("Cannot compute metrics on 0 samples.")
    if not np.issubdtype(y.dtype, np.integer) and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise DataError("Class labels must be whole numbers (class indices).")
    labels = y.astype(np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataError(f"Class labels must be in [0, {n_classes}), got values from {labels.min()} to {labels.max()}.")
    return labels


def _class_probabilities(proba: Any, n_classes: int, n: int) -> np.ndarray:
    """``(n, n_classes)`` float64 probabilities; a binary column p becomes ``[1 - p, p]``."""
    P = np.asarray(proba, dtype=np.float64)  # float64 so 1 - eps is representable
    if n_classes == 2 and (P.ndim == 1 or (P.ndim == 2 and P.shape[1] == 1)):
        p1 = P.reshape(-1)
        P = np.stack([1.0 - p1, p1], axis=1)
    if P.ndim != 2 or P.shape[1] != n_classes:
        raise DataError(f"Probabilities must have shape (n, {n_classes}), got {np.shape(proba)}.")
    if P.shape[0] != n:
        raise DataError(f"{n} labels but {P.shape[0]} rows of probabilities.")
    return P


def _as_2d(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataError(f"{what} must have shape (n,) or (n, k), got {array.shape}.")
    return array


def _r2(t: np.ndarray, residual: np.ndarray) -> float:
    """Coefficient of determination per output column, averaged uniformly."""
    ss_res = np.sum(residual**2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    # A constant target has no variance to explain: perfect fit 1.0, anything else 0.0.
    scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(scores))


class ClassificationStream:
    """:func:`classification_metrics` accumulated chunk by chunk, for data larger than memory.

    The confusion matrix (and so accuracy, precision, recall and F1) is exact; the log-loss is
    a float64 sum of per-chunk sums, equal to the one-pass value to about 1e-15 relative.

    With ``keep_scores`` it also keeps every row's label and probabilities (8 bytes per class
    and row), which the rank statistics of :meth:`report`'s ROC-AUC need; training's
    per-epoch validation passes leave it off.
    """

    def __init__(self, n_classes: int, keep_scores: bool = False) -> None:
        self.n_classes = int(n_classes)
        self.matrix = np.zeros((self.n_classes, self.n_classes), np.int64)
        self.log_loss_sum = 0.0
        self.keep_scores = keep_scores
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []

    def update(self, y_true: Any, proba: Any) -> None:
        labels = _labels(y_true, self.n_classes)
        P = _class_probabilities(proba, self.n_classes, len(labels))
        self.matrix += confusion_matrix(labels, np.argmax(P, axis=1), self.n_classes)
        picked = np.clip(P[np.arange(len(labels)), labels], LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
        self.log_loss_sum += float(-np.sum(np.log(picked)))
        if self.keep_scores:
            self.kept.append((labels, P))

    def merge(self, other: ClassificationStream) -> None:
        """Add another stream's rows (another rank's shard, say) to this one."""
        self.matrix += other.matrix
        self.log_loss_sum += other.log_loss_sum
        self.kept += other.kept

    def report(self) -> dict[str, Any]:
        """Per-class precision, recall, F1 and support, and (with ``keep_scores``) the
        :func:`roc_auc` of every row seen: ``{"per_class": [...], "roc_auc": {...} | None}``."""
        area = None
        if self.keep_scores and self.kept:
            labels = np.concatenate([labels for labels, _ in self.kept])
            area = roc_auc(labels, np.concatenate([P for _, P in self.kept]), self.n_classes)
        return {"per_class": class_report(self.matrix), "roc_auc": area}

    def result(self) -> dict[str, Any]:
        n = int(self.matrix.sum())
        if n == 0:
            raise DataError("Cannot compute metrics on 0 samples.")
        precision, recall, f1 = _macro_scores(self.matrix)
        return {
            "accuracy": float(np.trace(self.matrix) / n),
            "precision_macro": precision,
            "recall_macro": recall,
            "f1_macro": f1,
            "log_loss": self.log_loss_sum / n,
            "confusion_matrix": self.matrix.tolist(),
        }


class RegressionStream:
    """:func:`regression_metrics` accumulated chunk by chunk.

    Sums of squared and absolute residuals in float64; the target's spread for R² merges
    per-chunk means and squared deviations (Chan et al.), so it does not cancel.
    """

    def __init__(self) -> None:
        self.n = 0
        self.sq = self.abs = 0.0
        self.ss_res: np.ndarray | float = 0.0
        self.mean: np.ndarray | float = 0.0
        self.m2: np.ndarray | float = 0.0

    def update(self, y_true: Any, y_pred: Any) -> None:
        t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
        if t.shape != p.shape:
            raise DataError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}.")
        if len(t) == 0:
            return
        residual = t - p
        n_b, mean_b = len(t), t.mean(axis=0)
        self._add(
            n_b,
            float(np.sum(residual**2)),
            float(np.sum(np.abs(residual))),
            np.sum(residual**2, axis=0),
            mean_b,
            np.sum((t - mean_b) ** 2, axis=0),
        )
        self._outputs = t.shape[1]

    def merge(self, other: RegressionStream) -> None:
        """Add another stream's rows (another rank's shard, say) to this one."""
        if other.n:
            self._add(other.n, other.sq, other.abs, other.ss_res, other.mean, other.m2)
            self._outputs = other._outputs

    def _add(self, n_b: int, sq: float, ab: float, ss_res: Any, mean_b: Any, m2_b: Any) -> None:
        self.sq += sq
        self.abs += ab
        self.ss_res = self.ss_res + ss_res
        total = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * n_b / total)
        self.n = total

    def result(self) -> dict[str, float]:
        if self.n == 0:
            raise DataError("Cannot compute metrics on 0 samples.")
        values = self.n * self._outputs
        mse = self.sq / values
        ss_res, ss_tot = np.asarray(self.ss_res), np.asarray(self.m2)
        scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
        return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": self.abs / values, "r2": float(np.mean(scores))}
