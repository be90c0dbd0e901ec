"""``dlcli inspect``: what a model file holds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dlcli.cli import render
from dlcli.cli.common import EndpointOpt, JsonOpt, ProfileOpt, remote_options


def inspect_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model or checkpoint file (.h5), local or s3://.")],
    json_: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Show a model file's layers, shapes, parameter counts, preprocessing and provenance.

    Provenance covers the dlcli version and format version that wrote it, the creation time,
    the SHA-256 of the training data, the seed, and the final validation metrics.

    Example: dlcli inspect runs/iris/model.h5 --json
    """
    from dlcli.workflows.inference import summarize_model

    summary = summarize_model(model, remote_options=remote_options(model, endpoint_url=endpoint_url, profile=profile))
    if json_:
        render.emit_json(summary)
        return
    _print(summary)


PROVENANCE = ("kind", "data", "data_sha256", "seed", "epochs_run", "best_epoch")


def _print(summary: dict[str, Any]) -> None:
    from rich.table import Table

    console = render.out()
    metadata = summary.get("metadata") or {}
    console.print(
        f"{summary['path']}: {metadata.get('kind', 'model')}, format {summary['format_name']} "
        f"v{summary['format_version']}, written by dlcli {summary.get('dlcli_version') or '?'} "
        f"at {summary.get('created') or '?'}"
    )
    table = Table(title="layers")
    for column in ("layer", "type", "output", "params", "details"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for layer in summary["layers"]:
        config = layer["config"]
        details = ", ".join(f"{k}={config[k]}" for k in ("activation", "rate", "momentum") if config.get(k) is not None)
        table.add_row(layer["name"], layer["class_name"], str(layer["output_dim"]), f"{layer['params']:,}", details)
    console.print(table)
    console.print(
        f"loss: {summary.get('loss')}  dtype: {summary.get('dtype')}  "
        f"trainable parameters: {summary['trainable_params']:,}  total: {summary['params']:,}"
    )
    schema = summary.get("schema")
    if schema:
        console.print(f"task: {schema['task']}  target: {schema['target']}")
        if schema.get("classes"):
            console.print(f"classes: {', '.join(map(str, schema['classes']))}")
        console.print("inputs: " + ", ".join(f"{f['name']} ({f['kind']})" for f in schema["features"]))
    for key in PROVENANCE[1:]:
        if key in metadata:
            console.print(f"{key}: {metadata[key]}")
    if summary.get("has_training_state"):
        console.print("training state: present (resume with dlcli train --resume)")
    if summary.get("metrics"):
        render.print_metrics("final validation metrics", summary["metrics"])
