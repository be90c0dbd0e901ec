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
    the SHA-256 of the training data, the seed, what the model is (trained_as: by default the
    refit on all rows for the best epoch count) and its validation metrics, which measure the
    selection run's model on rows it never trained on (metrics_from).

    Example: dlcli inspect runs/iris/model.h5 --json
    """
    from dlcli.workflows.inference import summarize_model

    summary = summarize_model(model, remote_options=remote_options(model, endpoint_url=endpoint_url, profile=profile))
    if json_:
        render.emit_json(summary)
        return
    _print(summary)


PROVENANCE = ("kind", "data", "data_sha256", "seed", "epochs_run", "best_epoch")
LAYER_COLUMNS = ("layer", "type", "output", "params", "details")


def _layer_rows(summary: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for layer in summary["layers"]:
        config = layer["config"]
        details = ", ".join(f"{k}={config[k]}" for k in ("activation", "rate", "momentum") if config.get(k) is not None)
        rows.append([layer["name"], layer["class_name"], layer["output_dim"], layer["params"], details])
    return rows


def _facts(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """Everything but the layers and metrics, as (name, value) pairs in reading order."""
    metadata = summary.get("metadata") or {}
    facts: list[tuple[str, Any]] = [
        ("path", summary["path"]),
        ("kind", metadata.get("kind", "model")),
        ("format", _format(summary)),
        # The writer's own record: dlcli's version, or Keras's for a file Keras wrote; no blanks.
        *((key, summary[key]) for key in (_writer_key(summary), "created") if summary.get(key)),
        ("loss", summary.get("loss")),
        ("dtype", summary.get("dtype")),
        ("trainable_params", summary["trainable_params"]),
        ("params", summary["params"]),
    ]
    schema = summary.get("schema")
    if schema:
        facts += [("task", schema["task"]), ("target", schema["target"])]
        if schema.get("classes"):
            facts.append(("classes", ", ".join(map(str, schema["classes"]))))
        facts.append(("inputs", ", ".join(f"{f['name']} ({f['kind']})" for f in schema["features"])))
    facts += [(key, metadata[key]) for key in PROVENANCE[1:] if key in metadata]
    facts += [(key, summary[key]) for key in ("trained_as", "metrics_from") if summary.get(key)]
    if summary.get("has_training_state"):
        facts.append(("training_state", "present"))
    return facts


def _writer_key(summary: dict[str, Any]) -> str:
    return "dlcli_version" if summary.get("dlcli_version") else "keras_version"


def _format(summary: dict[str, Any]) -> str:
    version = summary.get("format_version")
    return str(summary["format_name"]) + (f" v{version}" if version is not None else "")


def _provenance(summary: dict[str, Any]) -> str:
    """``format dlcli-model v1, written by dlcli 0.1.0 at …``, or by Keras for a Keras-written file."""
    if summary.get("dlcli_version"):
        writer = f"dlcli {summary['dlcli_version']}"
    elif summary.get("keras_version"):
        writer = f"Keras {summary['keras_version']}"
    else:
        writer = "an unknown program"
    when = f" at {summary['created']}" if summary.get("created") else ""
    return f"format {_format(summary)}, written by {writer}{when}"


def _print(summary: dict[str, Any]) -> None:
    if not render.stdout_is_terminal():
        # A pipe: name<TAB>value lines (facts, then metrics), and last the layers as a block
        # under its header line, so every line after that header is a layer.
        for name, value in _facts(summary):
            render.tsv(name, value)
        render.print_metrics("validation metrics", summary.get("metrics") or {})
        render.print_table("layers", LAYER_COLUMNS, _layer_rows(summary))
        return
    console = render.out()
    metadata = summary.get("metadata") or {}
    console.print(f"{summary['path']}: {metadata.get('kind', 'model')}, {_provenance(summary)}", markup=False)
    rows = [[*row[:3], f"{row[3]:,}", row[4]] for row in _layer_rows(summary)]
    render.print_table("layers", LAYER_COLUMNS, rows, right=("params",))
    console.print(
        f"loss: {summary.get('loss')}  dtype: {summary.get('dtype')}  "
        f"trainable parameters: {summary['trainable_params']:,}  total: {summary['params']:,}",
        markup=False,
    )
    shown = {"path", "kind", "format", "dlcli_version", "created", "loss", "dtype", "trainable_params", "params"}
    for name, value in _facts(summary):
        if name not in shown:
            console.print(f"{name}: {value}" if name != "training_state" else _STATE_LINE, markup=False)
    if summary.get("metrics"):
        render.print_metrics(METRICS_TITLE, summary["metrics"])


# The metrics stored in a model are the selection run's (see workflows/provenance.py).
METRICS_TITLE = "validation metrics of the selection run (see metrics_from)"


_STATE_LINE = "training state: present (resume with dlcli train --resume)"
