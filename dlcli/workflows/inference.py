"""Using a trained model: evaluation on labelled data and streamed prediction.

Raw data goes in (the schema saved in the model encodes it), labels or values in original
units come out. Model and data may be local paths or remote URLs (fetched through the cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.schema import Schema
from dlcli.data.sources import iter_inputs, iter_labelled, stdin_is_pipe
from dlcli.data.tables import SplitFailed
from dlcli.data.writers import PredictionWriter
from dlcli.errors import DataError, UsageError, setting
from dlcli.nn.metrics import ClassificationStream, RegressionStream

__all__ = [
    "EvalResult",
    "Predictor",
    "eval_result",
    "evaluate",
    "evaluate_chunks",
    "iter_predictions",
    "load_predictor",
    "localize",
    "metric_stream",
    "output_columns",
    "output_plan",
    "predict_to",
    "stdin_is_pipe",
    "summarize_model",
    "update_stream",
]

DEFAULT_CHUNK_ROWS = 65536  # rows per chunk: large enough that per-chunk overhead vanishes


@dataclass
class Predictor:
    """A loaded model with its schema."""

    model: Any
    schema: Schema
    metadata: dict[str, Any]
    path: str

    def outputs(self, X: np.ndarray) -> np.ndarray:
        outputs: np.ndarray = self.model.predict(X)
        return outputs


@dataclass
class EvalResult:
    """``per_class``: one row per class (``class``, ``precision``, ``recall``, ``f1``,
    ``support``, ``roc_auc``); ``roc_auc_skipped``: classes left out of the ROC-AUC because the
    data holds none of them (or only them)."""

    metrics: dict[str, float]
    n_samples: int
    confusion_matrix: list[list[int]] | None = None
    labels: list[Any] = field(default_factory=list)
    per_class: list[dict[str, Any]] | None = None
    roc_auc_skipped: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"metrics": self.metrics, "n_samples": self.n_samples}
        if self.confusion_matrix is not None:
            payload["confusion_matrix"] = self.confusion_matrix
            payload["labels"] = self.labels
            payload["per_class"] = self.per_class
            payload["roc_auc_skipped"] = self.roc_auc_skipped
        return payload


def localize(location: str | Path, *, remote_options: Any = None) -> Path:
    """A local regular file for ``location``: itself, the cached copy of an ``s3://`` object,
    or a one-pass copy of a stream (FIFO, process substitution: see :func:`spooled`)."""
    text = str(location)
    if text.startswith("s3://"):
        from dlcli.remote import fetch

        return Path(fetch(text, remote_options))
    from dlcli.data.formats import is_stream, spooled

    if not is_stream(text):
        return Path(text)
    from dlcli.remote.settings import cache_dir  # not imported otherwise: local predict starts fast

    return Path(spooled(text, cache_dir(remote_options) / "streams"))


def load_predictor(path: str | Path, *, remote_options: Any = None) -> Predictor:
    from dlcli.model_io import load_model

    local = localize(path, remote_options=remote_options)
    loaded = load_model(local)
    schema = Schema.from_dict(loaded.schema) if loaded.schema else _bare_schema(loaded.model)
    return Predictor(loaded.model, schema, dict(loaded.metadata or {}), str(path))


def summarize_model(path: str | Path, *, remote_options: Any = None) -> dict[str, Any]:
    """What a model file holds (layers, shapes, schema, provenance), verified as loading does."""
    from dlcli.model_io import read_summary

    summary: dict[str, Any] = read_summary(localize(path, remote_options=remote_options))
    if summary["schema"] is not None:
        Schema.from_dict(summary["schema"])  # inspect shows what predict would use, or fails as it would
    return summary


def _bare_schema(model: Any) -> Schema:
    """A schema for a model without one (a Keras-written file): numeric inputs, raw outputs."""
    from dlcli.data.schema import Feature

    features = [Feature(f"x{i}", "numeric") for i in range(model.input_dim)]
    return Schema(task="regression", features=features, target="y")


def evaluate(predictor: Predictor, data: str | Path, *, remote_options: Any = None) -> EvalResult:
    """Metrics of ``predictor`` on labelled ``data`` (a file or ``s3://`` URL), streamed in chunks."""
    local = localize(data, remote_options=remote_options)
    dtype = str(predictor.model.dtype)
    try:
        chunks = iter_labelled(local, predictor.schema, chunk_rows=DEFAULT_CHUNK_ROWS, dtype=dtype, parallel=True)
        with parse_pool_running():
            return evaluate_chunks(predictor, chunks)
    except SplitFailed:  # a quoted value spans lines: read the file serially
        return evaluate_chunks(predictor, iter_labelled(local, predictor.schema, dtype=dtype))


def evaluate_chunks(predictor: Predictor, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> EvalResult:
    """Metrics over chunks of encoded inputs ``X`` and encoded targets ``y`` (class indices or
    scaled values): the counts exact, the sums in float64, memory one chunk."""
    stream = metric_stream(predictor.schema)
    n = 0
    for X, y in chunks:
        update_stream(predictor, stream, X, y)
        n += len(y)
    return eval_result(predictor.schema, stream, n)


MetricStream = ClassificationStream | RegressionStream


def metric_stream(schema: Schema) -> MetricStream:
    """An empty metric accumulator for the model's task."""
    if schema.is_classification:
        return ClassificationStream(len(schema.classes), keep_scores=True)  # for the ROC-AUC
    return RegressionStream()


def update_stream(predictor: Predictor, stream: MetricStream, X: np.ndarray, y: np.ndarray) -> None:
    """Add one chunk of encoded inputs and targets to ``stream``."""
    schema = predictor.schema
    output = predictor.outputs(X)
    if isinstance(stream, ClassificationStream):
        stream.update(y, output.reshape(-1) if schema.task == "binary" else output)
    else:
        stream.update(schema.unscale(y).reshape(-1), schema.unscale(output).reshape(-1))


def eval_result(schema: Schema, stream: MetricStream, n: int) -> EvalResult:
    """The metrics of ``n`` rows accumulated in ``stream``."""
    if n == 0:
        raise DataError("There are no rows to evaluate.")
    metrics = stream.result()
    if isinstance(stream, ClassificationStream):
        matrix: list[list[int]] = metrics.pop("confusion_matrix")  # type: ignore[assignment]
        report = stream.report()
        area = report["roc_auc"]
        if area["roc_auc"] is not None:  # absent, not NaN, when no class can be scored: metrics.json stays JSON
            metrics["roc_auc"] = area["roc_auc"]
        classes = list(schema.classes)
        per_class = [
            {"class": label, **scores, "roc_auc": auc}
            for label, scores, auc in zip(classes, report["per_class"], area["per_class"], strict=True)
        ]
        skipped = [classes[c] for c in area["skipped"]]
        return EvalResult(_floats(metrics), n, matrix, classes, per_class, skipped)
    return EvalResult(_floats(metrics), n)


def parse_pool_running() -> Any:
    """One BLAS thread while the CSV parse pool uses the cores.

    The model's small GEMMs gain little from a second thread, and OpenBLAS threads spinning
    against the parser threads on the same cores slowed a 1M-row prediction from 2.0–2.3 s
    to 2.9–3.3 s here (2 cores).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def iter_predictions(
    predictor: Predictor,
    data: str | Path,
    *,
    proba: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    remote_options: Any = None,
    parallel: bool = False,
) -> Iterator[np.ndarray]:
    """Yield predictions chunk by chunk: labels / values ``(n,)``, or probabilities ``(n, n_classes)``.

    ``parallel``: see :func:`dlcli.data.sources.iter_inputs` (the caller restarts on ``SplitFailed``).
    """
    source: str | Path = data if str(data) == "-" else localize(data, remote_options=remote_options)
    schema = predictor.schema
    dtype = str(predictor.model.dtype)
    for X in iter_inputs(source, schema, chunk_rows=chunk_rows, dtype=dtype, parallel=parallel):
        output = predictor.outputs(X)
        if proba:
            yield schema.probabilities(output)
        else:
            yield schema.decode_output(output)


def output_columns(schema: Schema, proba: bool) -> list[str]:
    if proba:
        return [str(c) for c in schema.classes]
    return [schema.target or "prediction"]


def output_plan(
    predictor: Predictor, output: Path | None, fmt: str | None, proba: bool
) -> tuple[str, list[Any] | None]:
    """The output format (``fmt``, else ``output``'s suffix, else CSV) and the class labels
    that fix a label column's type (``None``: probabilities or values)."""
    if proba and not predictor.schema.is_classification:
        raise UsageError(f"{setting('proba')} needs a classification model; this one is a regression model.")
    fmt = fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "csv")
    labels = None if proba or not predictor.schema.is_classification else list(predictor.schema.classes)
    return fmt, labels


def predict_to(
    predictor: Predictor,
    data: str | Path,
    output: Path | None,
    fmt: str | None = None,
    *,
    proba: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    remote_options: Any = None,
) -> int:
    """Write predictions for ``data`` to ``output`` (``None``: stdout) chunk by chunk; returns rows.

    ``fmt`` defaults to ``output``'s suffix, else CSV. A file appears under its name only when
    complete: an error or Ctrl-C midway leaves nothing behind.
    """
    fmt, labels = output_plan(predictor, output, fmt, proba)
    # Blocks are parsed in parallel only where a restart is invisible: into a temporary file
    # (an --output file, or NPY's spool), never straight to stdout.
    parallel = output is not None or fmt == "npy"
    with parse_pool_running() if parallel else nullcontext():
        return _predict_to(predictor, data, output, fmt, labels, proba, chunk_rows, remote_options, parallel)


def _predict_to(
    predictor: Predictor,
    data: str | Path,
    output: Path | None,
    fmt: str,
    labels: list[Any] | None,
    proba: bool,
    chunk_rows: int,
    remote_options: Any,
    parallel: bool,
) -> int:
    while True:
        writer = PredictionWriter(output, fmt, output_columns(predictor.schema, proba), labels)
        try:
            for chunk in iter_predictions(
                predictor, data, proba=proba, chunk_rows=chunk_rows, remote_options=remote_options, parallel=parallel
            ):
                writer.write(chunk)
        except SplitFailed:
            writer.abort()
            parallel = False  # a quoted value spans lines: read the file serially
            continue
        except BaseException:
            writer.abort()
            raise
        break
    writer.close()
    if writer.rows == 0 and str(data) != "-":
        raise DataError(f"'{data}' has no rows to predict.")
    return writer.rows
