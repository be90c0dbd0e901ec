"""``dlcli init``: scaffold a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli import render
from dlcli.cli.boundary import warn
from dlcli.cli.common import DelimiterOpt, EndpointOpt, JsonOpt, ProfileOpt, QuietOpt, remote_options


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Project directory (created if missing).")] = Path(
        "."
    ),
    data: Annotated[
        str | None,
        typer.Option(
            metavar="FILE|URL",
            help="Fit the config to this CSV, Parquet, Feather, NPZ or HDF5 file, or s3:// URL.",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN", help="The column to predict (tables; NPZ/HDF5 have their y).", show_default=False
        ),
    ] = None,
    delimiter: DelimiterOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing dlcli.toml.")] = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a dlcli.toml (commented) and a .gitignore for run directories.

    With --data (and, for a table, --target) the data is read and the config is fitted to it:
    classification (binary or multi-class) or regression, the input width after one-hot
    encoding of string columns, the output units and the loss; a CSV's delimiter is taken from
    its header line when it is ';', a tab or '|' (else --delimiter, e.g. --delimiter :); an
    s3:// URL is read through the cache; NPZ and HDF5 need no --target. ID-like columns (a distinct
    value per row) and missing cells are reported on stderr, with the suggested
    ignore = [...]. An existing dlcli.toml is kept unless --force.

    Example: dlcli init myproject --data samples/iris/iris.csv --target species
    """
    from dlcli.workflows.scaffold import scaffold

    options = remote_options(data, endpoint_url=endpoint_url, profile=profile)
    written, summary = scaffold(
        directory, data=data, target=target, delimiter=delimiter, force=force, remote_options=options
    )
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
                id_like=summary.id_like,
            )
        render.emit_json(payload)
        return
    for path in written:
        render.tsv("wrote", path)  # tab-separated: `cut -f2` gives the paths
    for note, hint in summary.notes if summary else []:
        warn(note, hint)
    if summary and not quiet:
        render.log(
            f"{summary.task} on '{summary.target}': {summary.n_inputs} inputs → {summary.n_outputs} output(s), "
            f"loss {summary.loss}"
        )
    cd = "" if directory == Path(".") else f"cd {directory} && "
    render.log(f"Next: {cd}dlcli train", quiet)
