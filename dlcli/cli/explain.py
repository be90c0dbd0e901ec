"""``dlcli explain``: permutation importance per feature, or per-row attributions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlcli.cli import render
from dlcli.cli.common import EndpointOpt, JsonOpt, ProfileOpt, output_file, remote_options
from dlcli.errors import UsageError, setting

BAR_WIDTH = 24  # characters of the longest importance bar on a terminal wide enough
MIN_BAR_WIDTH = 8  # on a narrow one: Rich then folds the table rather than lose the bars


def explain(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model file (.h5), local or s3://.")],
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="CSV, Parquet, Feather, NPY, NPZ or HDF5 file, or s3:// URL; labelled for the importance.",
        ),
    ],
    rows: Annotated[
        bool, typer.Option("--rows", help="Per-row attributions (integrated gradients) instead of the importance.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the per-row attributions here (implies --rows; '-': stdout).",
            show_default=False,
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Per-row output: csv, jsonl or parquet (default: from --output's suffix, else csv).",
            show_default=False,
        ),
    ] = None,
    repeats: Annotated[int, typer.Option(metavar="N", help="Seeded shuffles per feature (importance).")] = 5,
    sample: Annotated[
        int, typer.Option(metavar="N", help="Importance on a uniform sample of at most N rows of DATA.")
    ] = 100_000,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the shuffles and of the sample.")] = 0,
    baseline: Annotated[
        str,
        typer.Option(
            metavar="mean|zero|FILE",
            help="Attributions are relative to this input: the training mean, all zeros, or the mean of FILE's rows.",
        ),
    ] = "mean",
    steps: Annotated[
        int, typer.Option(metavar="N", help="Quadrature points along each path (rows over 1% gap get more).", min=1)
    ] = 50,
    method: Annotated[
        str, typer.Option(metavar="NAME", help="Quadrature rule along the path: {names:integration method}.")
    ] = "gausslegendre",
    class_: Annotated[
        str | None,
        typer.Option(
            "--class",
            metavar="NAME",
            help="Attribute this class's probability (default: the predicted class).",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            metavar="COLUMN",
            help="Copy this input column (an ID) into the per-row output; repeatable or a,b.",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            help="Also draw the importance (with --rows: and a beeswarm) into FILE.png or .svg.",
            show_default=False,
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(metavar="N", help="Rows per chunk (per-row mode); bounds memory.", min=1)
    ] = 8192,
    json_: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Explain which features drive a model's predictions, per original feature.

    By default: permutation importance. Each feature's values are shuffled across the rows
    (a categorical feature's one-hot columns together) --repeats times, and the drop of the
    main metric (accuracy, or R²) and the rise of the loss are reported as mean and standard
    deviation, most important first. DATA must hold the target. On a terminal a table with a
    bar per feature; in a pipe tab-separated lines; --json one object.

    With --rows (or --output FILE): integrated-gradient attributions for every row, streamed
    in chunks: each feature's contribution to the probability of the predicted class (or of
    --class), or to the regression value in the target's units, relative to --baseline. Per
    row they sum to f(row) − f(baseline); rows whose gap exceeds 1% are recomputed with twice
    the steps (up to 64×), and the worst gap is reported. Rows go to stdout (or --output) as
    CSV, JSONL or Parquet; the summary (mean |attribution| per feature) to stderr, or stdout
    with --output.

    --plot draws the same bars with matplotlib (the plot extra: pip install 'dlcli[plot]'),
    with --rows next to a beeswarm: one dot per row and feature, coloured by its value.

    Example: dlcli explain runs/iris/model.h5 samples/iris/iris.csv --plot importance.png
    """
    per_row = rows or output is not None
    output = output_file(output)
    if json_ and per_row and output is None:
        raise UsageError(
            f"{setting('json')} with {setting('rows')} needs {setting('output')}: the rows take stdout.",
            hint=f"Add {setting('output', 'attributions.csv')}, or use {setting('format', 'jsonl')} for JSON rows.",
        )
    if plot is not None:
        from dlcli.workflows.plots import picture_format, require_matplotlib

        picture_format(plot)  # before the work, not after it
        require_matplotlib()
    options = remote_options(model, data, endpoint_url=endpoint_url, profile=profile)
    from dlcli.workflows.inference import load_predictor

    predictor = load_predictor(model, remote_options=options)
    if per_row:
        kept = [name.strip() for item in keep or [] for name in item.split(",") if name.strip()]
        _rows(
            predictor,
            data,
            output,
            format_,
            kept,
            plot,
            json_,
            options,
            baseline=baseline,
            steps=steps,
            method=method,
            class_name=class_,
            chunk_rows=chunk_rows,
        )
        return
    from dlcli.workflows.importance import permutation_importance

    result = permutation_importance(predictor, data, repeats=repeats, seed=seed, sample=sample, remote_options=options)
    if plot is not None:
        from dlcli.workflows.plots import write_explain_plot

        bars = [(f["feature"], f["drop"], f["drop_std"]) for f in result.features]
        label = "accuracy" if result.metric == "accuracy" else "R²"
        write_explain_plot(
            bars, plot, title=f"permutation importance ({result.repeats} repeats)", xlabel=f"drop of {label}"
        )
    if json_:
        render.emit_json(result.to_json())
        return
    _print_importance(result, model, data)
    if plot is not None:
        render.log(f"Wrote {plot}")


def _print_importance(result: Any, model: str, data: str) -> None:
    metric = result.metric
    columns = ("feature", f"{metric}_drop", "std", "loss_rise", "std")
    values = [[f["feature"], f["drop"], f["drop_std"], f["loss_rise"], f["loss_rise_std"]] for f in result.features]
    if render.stdout_is_terminal():
        # The bars take what the columns (each its widest cell, a space of padding and one of
        # rule) leave of the terminal's width, so on a usual terminal no name or bar is cut.
        used = sum(max(len(c), *(len(render.fmt(row[i])) for row in values)) + 2 for i, c in enumerate(columns))
        width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, render.out().width - used - 1))
        top = max((abs(f["drop"]) for f in result.features), default=0.0) or 1.0
        for row, f in zip(values, result.features, strict=True):
            row.append("█" * round(width * max(f["drop"], 0.0) / top))
        sampled = f", a sample of {result.rows} of {result.total_rows}" if result.rows < result.total_rows else ""
        score = f"{metric} {render.fmt(result.baseline_metric)}"
        title = f"{model} on {data}: {score} ({result.rows} rows{sampled}, {result.repeats} shuffles per feature)"
        render.print_table(title, (*columns, ""), values, right=columns[1:], wide=True)
        return
    render.print_table("", columns, values)


def _rows(
    predictor: Any,
    data: str,
    output: Path | None,
    fmt: str | None,
    keep: list[str],
    plot: Path | None,
    json_: bool,
    options: Any,
    **settings: Any,
) -> None:
    import numpy as np

    from dlcli.workflows.explain import explain_rows

    schema = predictor.schema
    summary = explain_rows(predictor, data, output, fmt, keep=keep, remote_options=options, **settings)
    if plot is not None:
        from dlcli.workflows.plots import write_explain_plot

        bars = [(name, value, 0.0) for name, value in summary.mean_abs()]
        swarm = (
            [f.name for f in schema.features],
            np.concatenate(summary.sample_values),
            np.concatenate(summary.sample_inputs),
        )
        write_explain_plot(
            bars, plot, title=f"integrated gradients ({summary.rows} rows)", xlabel="mean |attribution|", swarm=swarm
        )
    if json_ and output is not None:
        render.emit_json(summary.to_json())
        return
    refined = f", {summary.refined} row(s) refined up to {summary.max_steps} steps" if summary.refined else ""
    render.log(
        f"{summary.rows} rows explained; worst completeness gap {summary.worst_gap:.2%} (tolerance 1%){refined}."
    )
    means = [(name, value) for name, value in summary.mean_abs()]
    if output is not None:  # stdout is free: the summary is the result
        render.print_table(
            "mean |attribution| per feature",
            ("feature", "mean_abs_attribution"),
            means,
            right=("mean_abs_attribution",),
        )
    else:
        for name, value in means:
            render.log(f"mean |attribution|  {name}  {render.fmt(value)}")
