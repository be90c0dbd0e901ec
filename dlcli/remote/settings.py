"""Remote settings: the ``[remote]`` section of dlcli.toml and the options every sync uses.

Endpoint resolution, first found wins: ``--endpoint-url``, ``[remote].endpoint_url``,
``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, the AWS default. Checksum mode: ``--checksum``,
``AWS_REQUEST_CHECKSUM_CALCULATION``, ``[remote].checksum``, then ``when_required`` — the
setting S3-compatible stores accept (boto3 >= 1.36 defaults to ``when_supported``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlcli.errors import RemoteUsageError

CHECKSUM_MODES = ("when_required", "when_supported")
REMOTE_KEYS = ("url", "push_to", "endpoint_url", "profile", "jobs", "checksum", "cache_dir")
DEFAULT_JOBS = 8


@dataclass(frozen=True)
class SyncOptions:
    """How a push, pull or fetch talks to a remote and what it transfers."""

    endpoint_url: str | None = None
    profile: str | None = None
    jobs: int = DEFAULT_JOBS
    checksum: str | None = None  # None: resolved by checksum_mode()
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


def read_remote_settings() -> dict[str, Any]:
    """The resolved ``[remote]`` section (./dlcli.toml, then DLCLI_REMOTE_* env) via dlcli.config."""
    from dataclasses import asdict

    from dlcli.config import load_config

    return asdict(load_config(None, {}).remote)


def options_from_settings(
    endpoint_url: str | None = None,
    profile: str | None = None,
    *,
    jobs: int | None = None,
    checksum: str | None = None,
    settings: dict[str, Any] | None = None,
    **extra: Any,
) -> SyncOptions:
    """SyncOptions from flags over ``[remote]`` in dlcli.toml over env (flags left ``None`` are not given).

    The checksum mode: ``--checksum``, else AWS_REQUEST_CHECKSUM_CALCULATION when set, else
    ``[remote].checksum`` (default ``when_required``).
    """
    table = read_remote_settings() if settings is None else settings
    cache = extra.pop("cache_dir", None) or table.get("cache_dir") or None
    if checksum is None and os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
        checksum = None  # resolved from the environment by checksum_modes()
    else:
        checksum = checksum or table.get("checksum") or None
    options = SyncOptions(
        endpoint_url=endpoint_url or table.get("endpoint_url") or None,
        profile=profile or table.get("profile") or None,
        jobs=int(jobs or table.get("jobs") or DEFAULT_JOBS),
        checksum=checksum,
        cache_dir=Path(cache).expanduser() if cache else None,
        **extra,
    )
    validate(options)
    return options


def validate(options: SyncOptions) -> None:
    """Raise RemoteUsageError for a bad jobs count or checksum mode."""
    if not 1 <= options.jobs <= 256:
        raise RemoteUsageError(f"--jobs must be between 1 and 256, got {options.jobs}.")
    if options.checksum is not None and options.checksum not in CHECKSUM_MODES:
        raise RemoteUsageError(
            f"Unknown checksum mode '{options.checksum}'.", hint="Expected one of: " + ", ".join(CHECKSUM_MODES) + "."
        )


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
    request = os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION", "").lower() or "when_required"
    response = os.environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION", "").lower() or "when_required"
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
