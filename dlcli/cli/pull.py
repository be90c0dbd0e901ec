"""dlcli pull: sync a remote (s3:// or a local directory) into a local directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli.common import EndpointOpt, JsonOpt, ProfileOpt, QuietOpt
from dlcli.cli.push import ChecksumOpt, DeleteOpt, DryRunOpt, ExcludeOpt, IncludeOpt, JobsOpt, run_sync


def pull(
    src: Annotated[
        str,
        typer.Argument(metavar="SRC", help="s3://bucket/prefix or a directory to download from.", show_default=False),
    ],
    dest: Annotated[
        Path | None,
        typer.Argument(metavar="DEST", help="Local directory (default: the current directory).", show_default=False),
    ] = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    jobs: JobsOpt = None,
    dry_run: DryRunOpt = False,
    delete: DeleteOpt = False,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    checksum: ChecksumOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Download a remote prefix into a local directory, verifying every file's SHA-256.

    Files already present with the same content are skipped; each download is written to a
    temporary name beside its target and renamed, and keys that would land outside DEST are refused.

    Example: dlcli pull s3://bucket/models/iris runs/iris
    """
    run_sync("pull", src, str(dest) if dest is not None else None, locals())
