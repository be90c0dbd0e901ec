"""``dlcli predict``: stream predictions for a file or stdin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli.boundary import warn
from dlcli.cli.common import EndpointOpt, ProfileOpt, output_file, remote_options
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
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write here instead of stdout ('-': stdout).", show_default=False
        ),
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
    threshold: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            help="Binary models: predict the second class where its probability is at least P (default 0.5).",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            metavar="COLUMN",
            help="Copy this input column (an ID) into the output, before the predictions; repeatable or a,b.",
            show_default=False,
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(metavar="N", help="Rows per chunk (CSV: blocks of a few MiB); bounds memory.", min=1)
    ] = 8192,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Predict labels (or class probabilities) for new data.

    Data is read in chunks, encoded with the preprocessing saved in the model, and written as it
    goes: labels in the original class names, regression values in original units. The target
    column may be present or absent. Missing cells (filled with the training mean) and
    categories unseen in training (encoded as none) are counted per column and reported in one
    warning line on stderr at the end.

    Under mpiexec the rows are split across the ranks and one output is written, in input order
    (docs/distributed.md).

    --keep passes columns through as they are written (an ID, to join the predictions on), in
    CSV, JSONL and Parquet; --threshold moves a binary model's decision, e.g.
    dlcli predict model.h5 customers.csv --keep customer_id --threshold 0.3. Options that do
    not go together, and a --keep column the data does not have, are refused before anything
    is written.

    Example: dlcli predict runs/iris/model.h5 samples/iris/iris.csv --proba --format jsonl
    """
    from dlcli.parallel import agreed, current

    kept = [name.strip() for item in keep or [] for name in item.split(",") if name.strip()]
    output = output_file(output)
    world = current()
    options = agreed(world, lambda: remote_options(model, data, endpoint_url=endpoint_url, profile=profile))
    if world.size > 1:
        from dlcli.workflows.parallel_inference import predict_ranks

        if kept:
            raise UsageError("--keep is not available under mpiexec yet.", hint="Run predict as one process.")
        predict_ranks(
            world,
            model,
            data,
            output,
            format_,
            proba=proba,
            threshold=threshold,
            chunk_rows=chunk_rows,
            remote_options=options,
        )
        return
    from dlcli.workflows.inference import InputTally, load_predictor, predict_to, stdin_is_pipe

    if data is None:
        if not stdin_is_pipe():
            raise UsageError("No data to predict on.", hint="Pass a file, or pipe CSV into 'dlcli predict MODEL -'.")
        data = "-"
    predictor = load_predictor(model, remote_options=options)
    tally = InputTally()
    predict_to(
        predictor,
        data,
        output,
        format_,
        proba=proba,
        chunk_rows=chunk_rows,
        remote_options=options,
        tally=tally,
        threshold=threshold,
        keep=kept,
    )
    for note in tally.notes():  # once, at the end: the counts of the whole input
        warn(note)
