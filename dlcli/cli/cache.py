"""``dlcli cache``: list or clear the local cache of table copies and fetched objects."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcli.cli import render
from dlcli.cli.common import JsonOpt, QuietOpt
from dlcli.errors import UsageError

ACTIONS = ("ls", "clear")


def cache_command(
    action: Annotated[
        str, typer.Argument(metavar="ACTION", help="ls (list the cache) or clear (empty it).", show_default=False)
    ] = "ls",
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List or clear the local cache: binary copies of tables that training reads, s3:// objects.

    The cache is remote.cache_dir, else $DLCLI_CACHE_DIR, else ~/.cache/dlcli. Everything in
    it is rebuilt on demand, so clearing it only costs the next run the time to re-read.

    Example: dlcli cache ls && dlcli cache clear
    """
    from dlcli.config import load_config
    from dlcli.workflows.caches import age, cache_entries, cache_location, clear_cache

    if action not in ACTIONS:
        raise UsageError(f"Unknown cache action '{action}'.", hint="Use 'dlcli cache ls' or 'dlcli cache clear'.")
    root = cache_location(load_config(None, {}))
    if action == "clear":
        files, size = clear_cache(root)
        if json_:
            render.emit_json({"cache_dir": str(root), "removed_files": files, "removed_bytes": size})
        else:
            render.log(f"Removed {files} file(s), {size / 2**20:.1f} MiB, from {root}.", quiet)
        return
    entries = cache_entries(root)
    if json_:
        render.emit_json({"cache_dir": str(root), "entries": [e.to_json() for e in entries]})
        return
    render.log(f"{root}: {len(entries)} file(s), {sum(e.bytes for e in entries) / 2**20:.1f} MiB", quiet)
    for e in entries:
        rows = "" if e.rows is None else f"{e.rows} rows"
        typer.echo(f"{e.kind}\t{e.bytes / 2**20:.1f} MiB\t{age(e.modified)} ago\t{rows}\t{e.source}\t{e.path}")
