"""The options every sync uses, and how the endpoint and checksum mode are resolved.

The caller (``dlcli.workflows``) fills :class:`SyncOptions` from the resolved configuration.
Endpoint, first found wins: ``SyncOptions.endpoint_url`` (flag or ``remote.endpoint_url``),
``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, the AWS default. Checksum mode:
``SyncOptions.checksum`` (an explicit flag), ``AWS_REQUEST_CHECKSUM_CALCULATION``,
``SyncOptions.default_checksum`` (``remote.checksum``, default ``when_required`` — the setting
S3-compatible stores accept; boto3 >= 1.36 defaults to ``when_supported``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlcli.errors import RemoteUsageError

CHECKSUM_MODES = ("when_required", "when_supported")
DEFAULT_JOBS = 8


@dataclass(frozen=True)
class SyncOptions:
    """How a push, pull or fetch talks to a remote and what it transfers."""

    endpoint_url: str | None = None
    profile: str | None = None
    jobs: int = DEFAULT_JOBS
    checksum: str | None = None  # an explicit choice; None: resolved by checksum_modes()
    default_checksum: str = "when_required"
    cache_dir: Path | None = None
    dry_run: bool = False
    delete: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Called with the total bytes to transfer once the plan is known, then with byte increments.
    on_total: Callable[[int], None] | None = field(default=None, compare=False)
    on_bytes: Callable[[int], None] | None = field(default=None, compare=False)

    def with_(self, **changes: Any) -> SyncOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)


def resolve_endpoint(options: SyncOptions) -> str | None:
    """The endpoint URL to use, ``None`` for the AWS default (flag/config first, then the AWS variables)."""
    for value in (options.endpoint_url, os.environ.get("AWS_ENDPOINT_URL_S3"), os.environ.get("AWS_ENDPOINT_URL")):
        if value:
            return value
    return None


def checksum_modes(options: SyncOptions) -> tuple[str, str]:
    """(request_checksum_calculation, response_checksum_validation) for botocore's Config."""
    if options.checksum:
        return options.checksum, options.checksum
    fallback = options.default_checksum
    request = os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION", "").lower() or fallback
    response = os.environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION", "").lower() or fallback
    for value in (request, response):
        if value not in CHECKSUM_MODES:
            raise RemoteUsageError(
                f"Unknown checksum mode '{value}' in AWS_REQUEST_CHECKSUM_CALCULATION / "
                "AWS_RESPONSE_CHECKSUM_VALIDATION.",
                hint="Expected one of: " + ", ".join(CHECKSUM_MODES) + ".",
            )
    return request, response


def cache_dir(options: SyncOptions | None) -> Path:
    """The local cache directory: options, $DLCLI_CACHE_DIR, else ~/.cache/dlcli."""
    if options is not None and options.cache_dir:
        return Path(options.cache_dir)
    env = os.environ.get("DLCLI_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlcli"
