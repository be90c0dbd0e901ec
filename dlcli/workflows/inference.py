"""Using a trained model: evaluation on labelled data and streamed prediction.

Raw data goes in (the schema saved in the model encodes it), labels or values in original
units come out. Model and data may be local paths or remote URLs (fetched through the cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.quality import InputTally
from dlcli.data.schema import Schema
from dlcli.data.sources import iter_inputs, iter_inputs_kept, iter_labelled, stdin_is_pipe
from dlcli.data.tables import SplitFailed
from dlcli.data.writers import FORMATS as OUTPUT_FORMATS  # re-exported: predict --format completion
from dlcli.data.writers import PredictionWriter
from dlcli.errors import DataError, UsageError, setting
from dlcli.nn.metrics import ClassificationStream, RegressionStream

__all__ = [
    "OUTPUT_FORMATS",
    "EvalResult",
    "InputTally",
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

    from .provenance import model_origin

    summary: dict[str, Any] = read_summary(localize(path, remote_options=remote_options))
    if summary["schema"] is not None:
        Schema.from_dict(summary["schema"])  # inspect shows what predict would use, or fails as it would
    origin = model_origin(summary.get("metadata"))
    if origin is not None:
        summary["trained_as"], summary["metrics_from"] = origin
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
    tally: InputTally | None = None,
    threshold: float | None = None,
    keep: Sequence[str] = (),
) -> Iterator[np.ndarray]:
    """Yield predictions chunk by chunk: labels / values ``(n,)``, or probabilities ``(n, n_classes)``.

    ``parallel``: see :func:`dlcli.data.sources.iter_inputs` (the caller restarts on ``SplitFailed``);
    ``tally`` counts the missing cells and unseen categories met; ``threshold``: a binary model's
    probability from which its second class is predicted (default 0.5); ``keep``: input columns
    put first in each chunk, as written (an object array ``(n, len(keep) + outputs)``).
    """
    source: str | Path = data if str(data) == "-" else localize(data, remote_options=remote_options)
    schema = predictor.schema
    reading = {"chunk_rows": chunk_rows, "dtype": str(predictor.model.dtype), "parallel": parallel, "tally": tally}
    chunks = (
        iter_inputs_kept(source, schema, keep, **reading)  # type: ignore[arg-type]
        if keep
        else ((X, None) for X in iter_inputs(source, schema, **reading))  # type: ignore[arg-type]
    )
    for X, kept in chunks:
        output = predictor.outputs(X)
        values = schema.probabilities(output) if proba else schema.decode_output(output, threshold or 0.5)
        if kept is None:
            yield values
            continue
        rows = np.empty((len(values), kept.shape[1] + values.reshape(len(values), -1).shape[1]), dtype=object)
        rows[:, : kept.shape[1]], rows[:, kept.shape[1] :] = kept, values.reshape(len(values), -1)
        yield rows


def output_columns(schema: Schema, proba: bool, keep: Sequence[str] = ()) -> list[str]:
    if proba:
        return [*keep, *(str(c) for c in schema.classes)]
    return [*keep, schema.target or "prediction"]


def output_plan(
    predictor: Predictor,
    output: Path | None,
    fmt: str | None,
    proba: bool,
    threshold: float | None = None,
    keep: Sequence[str] = (),
) -> tuple[str, list[Any] | None]:
    """The output format (``fmt``, else ``output``'s suffix, else CSV) and the class labels
    that fix a label column's type (``None``: probabilities or values); refuses options that
    do not go together before anything is read or written."""
    task = predictor.schema.task
    if proba and not predictor.schema.is_classification:
        raise UsageError(f"{setting('proba')} needs a classification model; this one is a regression model.")
    if threshold is not None:
        if task != "binary":
            raise UsageError(f"{setting('threshold')} needs a binary model; this one is a {task} model.")
        if proba:
            raise UsageError(f"{setting('threshold')} decides labels, so it cannot go with {setting('proba')}.")
        if not 0.0 < threshold < 1.0:
            raise UsageError(f"{setting('threshold')} must be between 0 and 1 (exclusive), got {threshold:g}.")
    fmt = fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "csv")
    if keep and fmt == "npy":
        raise UsageError(
            f"{setting('keep')} needs a format with named columns; NPY holds one array.",
            hint=f"Use {setting('format', 'csv')}, jsonl or parquet.",
        )
    repeated = sorted(
        {c for c in keep if list(keep).count(c) > 1} | set(keep) & set(output_columns(predictor.schema, proba))
    )
    if repeated:
        raise UsageError(f"{setting('keep')} would repeat column(s) {', '.join(map(repr, repeated))} in the output.")
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
    tally: InputTally | None = None,
    threshold: float | None = None,
    keep: Sequence[str] = (),
) -> int:
    """Write predictions for ``data`` to ``output`` (``None``: stdout) chunk by chunk; returns rows.

    ``fmt`` defaults to ``output``'s suffix, else CSV. A file appears under its name only when
    complete: an error or Ctrl-C midway leaves nothing behind. ``tally`` (an :class:`InputTally`)
    counts the missing cells and unseen categories the encoding filled or ignored.
    """
    fmt, labels = output_plan(predictor, output, fmt, proba, threshold, keep)
    predicting = {"proba": proba, "chunk_rows": chunk_rows, "remote_options": remote_options}
    predicting |= {"threshold": threshold, "keep": keep, "tally": tally or InputTally()}
    # Blocks are parsed in parallel only where a restart is invisible: into a temporary file
    # (an --output file, or NPY's spool), never straight to stdout.
    parallel = output is not None or fmt == "npy"
    with parse_pool_running() if parallel else nullcontext():
        return _predict_to(predictor, data, output, fmt, labels, parallel, predicting)


def _predict_to(
    predictor: Predictor,
    data: str | Path,
    output: Path | None,
    fmt: str,
    labels: list[Any] | None,
    parallel: bool,
    predicting: dict[str, Any],
) -> int:
    tally: InputTally = predicting["tally"]
    columns = output_columns(predictor.schema, predicting["proba"], predicting["keep"])
    while True:
        writer = PredictionWriter(output, fmt, columns, labels)
        tally.reset()  # counts of this attempt only, should a serial read start over
        try:
            for chunk in iter_predictions(predictor, data, parallel=parallel, **predicting):
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
