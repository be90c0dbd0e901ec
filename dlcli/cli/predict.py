"""``dlcli predict``: stream predictions for a file or stdin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli.common import EndpointOpt, ProfileOpt, remote_options
from dlcli.errors import UsageError


def predict(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model file (.h5), local or s3://.")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA|-",
            help="CSV, Parquet, Feather, NPY, NPZ or HDF5 file, s3:// URL, or - for CSV on stdin "
            "(default when stdin is a pipe).",
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
            help="csv, jsonl, npy or parquet (default: from --output's suffix, else csv).",
            show_default=False,
        ),
    ] = None,
    proba: Annotated[bool, typer.Option("--proba", help="One probability column per class instead of labels.")] = False,
    chunk_rows: Annotated[
        int, typer.Option(metavar="N", help="Rows per chunk (CSV: blocks of a few MiB); bounds memory.", min=1)
    ] = 8192,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Predict labels (or class probabilities) for new data.

    Data is read in chunks, encoded with the preprocessing saved in the model, and written as it
    goes: labels in the original class names, regression values in original units. The target
    column may be present or absent.

    Under mpiexec the rows are split across the ranks and one output is written, in input order
    (docs/distributed.md).

    Example: dlcli predict runs/iris/model.h5 samples/iris/iris.csv --proba --format jsonl
    """
    from dlcli.parallel import agreed, current

    world = current()
    options = agreed(world, lambda: remote_options(model, data, endpoint_url=endpoint_url, profile=profile))
    if world.size > 1:
        from dlcli.workflows.parallel_inference import predict_ranks

        predict_ranks(world, model, data, output, format_, proba=proba, chunk_rows=chunk_rows, remote_options=options)
        return
    from dlcli.workflows.inference import load_predictor, predict_to, stdin_is_pipe

    if data is None:
        if not stdin_is_pipe():
            raise UsageError("No data to predict on.", hint="Pass a file, or pipe CSV into 'dlcli predict MODEL -'.")
        data = "-"
    predictor = load_predictor(model, remote_options=options)
    predict_to(predictor, data, output, format_, proba=proba, chunk_rows=chunk_rows, remote_options=options)
