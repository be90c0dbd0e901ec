"""The options every sync uses, and how the endpoint and checksum mode are resolved.

The caller (``dlcli.workflows``) fills :class:`SyncOptions` from the resolved configuration.
Endpoint, first found wins: ``SyncOptions.endpoint_url`` (flag or ``remote.endpoint_url``),
``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, the AWS default. Checksum mode:
``SyncOptions.checksum`` (an explicit flag), ``AWS_REQUEST_CHECKSUM_CALCULATION``,
``SyncOptions.default_checksum`` (``remote.checksum``, default ``when_required`` — the setting
S3-compatible stores accept; boto3 >= 1.36 defaults to ``when_supported``). Timeouts:
``SyncOptions.timeout`` (``remote.timeout``) bounds the wait for each answer, and connecting
takes at most :data:`MAX_CONNECT_TIMEOUT` of it; each request is tried :data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlcli.errors import RemoteUsageError, setting
from dlcli.remote.url import check_endpoint_url
from dlcli.remote.url import redact_url as redact_url  # for config, which may import only settings

CHECKSUM_MODES = ("when_required", "when_supported")
DEFAULT_JOBS = 8
# Seconds to wait for each answer (botocore's read_timeout); botocore's own 60 s times five
# attempts left a push silent for five minutes before it said anything.
DEFAULT_TIMEOUT = 30.0
# A TCP connection to a live server takes milliseconds; waiting longer only delays the error.
MAX_CONNECT_TIMEOUT = 10.0
MAX_ATTEMPTS = 5  # per request, the first one included (botocore's standard retry mode)


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
    timeout: float = DEFAULT_TIMEOUT
    # Called with a line for the user: a request being retried, what a killed sync left and
    # this one cleaned up. The library never prints; the CLI shows these on stderr.
    on_notice: Callable[[str], None] | None = field(default=None, compare=False)
    # Called with the total bytes to transfer once the plan is known, then with byte increments.
    on_total: Callable[[int], None] | None = field(default=None, compare=False)
    on_bytes: Callable[[int], None] | None = field(default=None, compare=False)

    def with_(self, **changes: Any) -> SyncOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)


def resolve_endpoint(options: SyncOptions) -> str | None:
    """The endpoint URL to use, ``None`` for the AWS default (flag/config first, then the AWS
    variables); one that is not ``http(s)://HOST[:PORT]`` is a usage error naming where it came from."""
    candidates = (
        (options.endpoint_url, setting("remote.endpoint_url")),
        (os.environ.get("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3"),
        (os.environ.get("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"),
    )
    for value, source in candidates:
        if value and value.strip():
            return check_endpoint_url(value, source)
    return None


def timeouts(options: SyncOptions) -> tuple[float, float]:
    """(connect, read) timeouts in seconds for botocore's Config, from ``options.timeout``."""
    if not options.timeout > 0:  # also NaN
        raise RemoteUsageError(
            f"{setting('remote.timeout')} must be > 0 seconds, got {options.timeout}.",
            hint=f"Set {setting('remote.timeout', '30')}.",
        )
    return min(options.timeout, MAX_CONNECT_TIMEOUT), options.timeout


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
