"""``dlcli predict``: stream predictions for a file or stdin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli.common import EndpointOpt, ProfileOpt, remote_options
from dlcli.errors import DataError, UsageError


def predict(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model file (.h5), local or s3://.")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA|-",
            help="CSV/NPY/NPZ/HDF5 file, s3:// URL, or - for stdin (default when stdin is a pipe).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.", show_default=False),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="csv, jsonl or npy (default: from --output's suffix, else csv).",
            show_default=False,
        ),
    ] = None,
    proba: Annotated[bool, typer.Option("--proba", help="One probability column per class instead of labels.")] = False,
    chunk_rows: Annotated[int, typer.Option(metavar="N", help="Rows per chunk; bounds memory.", min=1)] = 8192,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Predict labels (or class probabilities) for new data.

    Data is read in chunks, encoded with the preprocessing saved in the model, and written as it
    goes: labels in the original class names, regression values in original units. The target
    column may be present or absent.

    Example: dlcli predict runs/iris/model.h5 samples/iris/iris.csv --proba --format jsonl
    """
    from dlcli.data.sources import stdin_is_pipe
    from dlcli.data.writers import PredictionWriter
    from dlcli.inference import iter_predictions, load_predictor, output_columns

    if data is None:
        if not stdin_is_pipe():
            raise UsageError("No data to predict on.", hint="Pass a file, or pipe CSV into 'dlcli predict MODEL -'.")
        data = "-"
    options = remote_options(model, data, endpoint_url=endpoint_url, profile=profile)
    predictor = load_predictor(model, remote_options=options)
    if proba and not predictor.schema.is_classification:
        raise UsageError("--proba needs a classification model; this one is a regression model.")
    fmt = format_ or (output.suffix.lstrip(".").lower() if output and output.suffix else "csv")
    writer = PredictionWriter(output, fmt, output_columns(predictor.schema, proba))
    try:
        for chunk in iter_predictions(predictor, data, proba=proba, chunk_rows=chunk_rows, remote_options=options):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    if writer.rows == 0 and data != "-":
        raise DataError(f"'{data}' has no rows to predict.")
