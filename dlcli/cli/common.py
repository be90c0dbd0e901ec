"""Option aliases shared by several commands, so one setting has one spelling everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log lines on stderr.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", metavar="FILE", help="Config file (default: ./dlcli.toml when it exists).", show_default=False
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="KEY=VALUE", help="Set any config key: --set train.epochs=50 (repeatable).", show_default=False
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        metavar="URL",
        help="S3 endpoint URL (else [remote].endpoint_url, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", metavar="NAME", help="AWS profile for s3:// URLs.", show_default=False)
]

# data.delimiter; a tab is hard to type in a shell, so "\t" and "tab" also mean one.
DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        metavar="CHAR",
        help="CSV delimiter, e.g. ';', or \\t for a tab (default: ',', or the ';', tab or | the header line shows).",
        callback=lambda value: "\t" if value in ("\\t", "tab") else value,
        show_default=False,
    ),
]


def overrides(**pairs: object) -> dict[str, object]:
    """Dotted config overrides for the flags that were given (``None`` means not given)."""
    return {key.replace("__", "."): value for key, value in pairs.items() if value is not None}


def remote_options(*locations: str | None, endpoint_url: str | None = None, profile: str | None = None) -> Any:
    """Options for s3:// locations, from flags over the config; ``None`` when none is remote."""
    from dlcli.workflows.remotes import options_for

    return options_for(*locations, endpoint_url=endpoint_url, profile=profile)


def output_file(output: Path | None) -> Path | None:
    """``--output``'s file, or None for stdout: ``-`` is the usual spelling of stdout, not a
    file named '-'."""
    return None if output is None or str(output) == "-" else output
