"""dlcli push: sync a file or directory to a remote (s3:// or a local directory)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from dlcli.cli.common import EndpointOpt, JsonOpt, ProfileOpt, QuietOpt
from dlcli.cli.render import emit_json, err, log, stderr_is_terminal, stdout_is_terminal, tsv
from dlcli.errors import RemoteError

JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs", "-j", min=1, max=256, help="Parallel transfers (default 8, or [remote].jobs).", show_default=False
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be transferred or deleted; change nothing.")
]
DeleteOpt = Annotated[bool, typer.Option("--delete", help="Delete destination files that are not in the source.")]
IncludeOpt = Annotated[
    list[str] | None,
    typer.Option("--include", metavar="GLOB", help="Only sync paths matching GLOB (repeatable).", show_default=False),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", metavar="GLOB", help="Skip paths matching GLOB (repeatable).", show_default=False),
]
ChecksumOpt = Annotated[
    str | None,
    typer.Option(
        "--checksum",
        metavar="MODE",
        help="boto3 request/response checksums: {choices:remote.checksum} (default when_required, which "
        "S3-compatible stores accept).",
        show_default=False,
    ),
]


def push(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Local file or directory to upload.", show_default=False)],
    dest: Annotated[
        str | None,
        typer.Argument(
            metavar="DEST", help="s3://bucket/prefix or a directory (default: [remote].url).", show_default=False
        ),
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
    """Upload a file or directory to a remote, skipping files whose content is already there.

    Files are compared by SHA-256 (kept in object metadata and a manifest), transferred in
    parallel, large ones multipart. DEST defaults to [remote].url in dlcli.toml.

    Example: dlcli push runs/iris s3://bucket/models/iris
    """
    run_sync("push", str(src), dest, locals())


def run_sync(direction: str, src: str, dest: str | None, flags: dict[str, Any]) -> None:
    """Shared by push and pull: call the sync workflow, render the report."""
    from dlcli.workflows.remotes import sync

    with progress(flags["quiet"] or flags["json"], flags["quiet"]) as (on_total, on_bytes, on_notice):
        report = sync(
            direction,
            src,
            dest,
            endpoint_url=flags["endpoint_url"],
            profile=flags["profile"],
            jobs=flags["jobs"],
            checksum=flags["checksum"],
            dry_run=flags["dry_run"],
            delete=flags["delete"],
            include=tuple(flags["include"] or ()),
            exclude=tuple(flags["exclude"] or ()),
            on_total=on_total,
            on_bytes=on_bytes,
            on_notice=on_notice,
        )
    if flags["json"]:
        emit_json(report.to_dict())
    else:
        if report.dry_run:
            list_planned(report)
        for failure in report.failed:
            log(f"failed: {failure['key']}: {failure['error']}")
        log(report.summary(), flags["quiet"])
    if report.failed:
        raise RemoteError(
            f"{len(report.failed)} file(s) failed to {direction}; the others were transferred.",
            hint="Run the same command again to retry only what is missing.",
        )


def list_planned(report: Any) -> None:
    """What a dry run would do, file by file on stdout (as ``aws s3 sync --dryrun``)."""
    verb = "download" if report.direction == "pull" else "upload"
    target = report.destination.rstrip("/")
    actions = [(verb, key) for key in sorted(report.transferred)] + [("delete", k) for k in sorted(report.deleted)]
    for action, key in actions:
        if stdout_is_terminal():
            typer.echo(f"(dry run) {action}: {target}/{key}")
        else:
            tsv(action, key, f"{target}/{key}")


Callback = Callable[[int], None] | None


@contextmanager
def progress(silent: bool, quiet: bool) -> Iterator[tuple[Callback, Callback, Callable[[str], None]]]:
    """(on_total, on_bytes, on_notice): Rich byte progress on a terminal, none in a pipe, with
    --quiet or --json; notices (retries, clean-ups) on stderr unless --quiet, above the bar."""
    if silent or not stderr_is_terminal():
        yield None, None, lambda line: log(line, quiet)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err(),
        transient=True,
    ) as bar:
        task = bar.add_task("transfer", total=None)
        yield (
            (lambda n: bar.update(task, total=n)),
            (lambda n: bar.advance(task, n)),
            (lambda line: bar.console.print(line, markup=False, highlight=False)),
        )
