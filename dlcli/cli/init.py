"""``dlcli init``: scaffold a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli import render
from dlcli.cli.common import JsonOpt, QuietOpt


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Project directory (created if missing).")] = Path(
        "."
    ),
    data: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Fit the config to this CSV/NPZ/HDF5 file.", show_default=False),
    ] = None,
    target: Annotated[
        str | None, typer.Option(metavar="COLUMN", help="The column to predict (with --data).", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing dlcli.toml.")] = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a dlcli.toml (commented) and a .gitignore for run directories.

    With --data and --target the data is read and the config is fitted to it: classification
    (binary or multi-class) or regression, the input width after one-hot encoding of string
    columns, the output units and the loss. An existing dlcli.toml is kept unless --force.

    Example: dlcli init myproject --data samples/iris/iris.csv --target species
    """
    from dlcli.workflows.scaffold import scaffold

    written, summary = scaffold(directory, data=data, target=target, force=force)
    if json_:
        payload: dict[str, object] = {"written": [str(p) for p in written]}
        if summary:
            payload.update(
                task=summary.task,
                n_inputs=summary.n_inputs,
                n_outputs=summary.n_outputs,
                loss=summary.loss,
                categorical=summary.categorical,
                classes=summary.classes,
            )
        render.emit_json(payload)
        return
    for path in written:
        render.tsv("wrote", path)  # tab-separated: `cut -f2` gives the paths
    if summary and not quiet:
        render.log(
            f"{summary.task} on '{summary.target}': {summary.n_inputs} inputs → {summary.n_outputs} output(s), "
            f"loss {summary.loss}"
        )
    cd = "" if directory == Path(".") else f"cd {directory} && "
    render.log(f"Next: {cd}dlcli train", quiet)
