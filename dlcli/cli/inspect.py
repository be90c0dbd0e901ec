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
    from dlcli.inference import localize
    from dlcli.model_summary import summarize

    local = localize(model, remote_options=remote_options(model, endpoint_url=endpoint_url, profile=profile))
    summary = summarize(local)
    if json_:
        render.emit_json(summary)
        return
    _print(summary)


def _print(summary: dict[str, Any]) -> None:
    from rich.table import Table

    console = render.out()
    console.print(f"{summary['path']}: {summary['kind']}, format {summary['format']} v{summary['format_version']}, "
                  f"written by dlcli {summary.get('dlcli_version', '?')} at {summary.get('created', '?')}")
    table = Table(title="layers")
    for column in ("layer", "type", "output shape", "params", "details"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for layer in summary["layers"]:
        table.add_row(layer["name"], layer["type"], str(tuple(layer["output_shape"])), f"{layer['params']:,}",
                      layer["details"])
    console.print(table)
    console.print(f"trainable parameters: {summary['trainable_params']:,}  total: {summary['total_params']:,}")
    schema = summary.get("preprocessing")
    if schema:
        kinds = ", ".join(f"{f['name']} ({f['kind']})" for f in schema["features"])
        console.print(f"task: {schema['task']}  target: {schema['target']}")
        if schema.get("classes"):
            console.print(f"classes: {', '.join(map(str, schema['classes']))}")
        console.print(f"inputs: {kinds}")
    provenance = summary.get("provenance") or {}
    for key in ("data_sha256", "data", "seed", "epochs_run", "best_epoch"):
        if key in provenance:
            console.print(f"{key}: {provenance[key]}")
    if summary.get("metrics"):
        render.print_metrics("final validation metrics", summary["metrics"])
