"""Remote options from the resolved configuration, and the push/pull workflow.

Everything about a remote (endpoint, profile, parallel transfers, checksum mode, timeout, cache) is
read from the one resolved :class:`~dlcli.config.Config`, so ``[remote]`` keys, ``DLCLI_REMOTE_*``
variables and ``--set remote.*`` reach every command that touches a remote, wherever its
config file lives.

The configuration and the remote package are imported inside the functions: every command
with a MODEL or DATA argument asks :func:`options_for` first, and for local paths it must
cost nothing (importing both is about 45 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcli.errors import RemoteUsageError, setting

if TYPE_CHECKING:
    from dlcli.config import Config
    from dlcli.remote import SyncOptions, SyncReport


def sync_options(cfg: Config, *, checksum: str | None = None, **extra: Any) -> SyncOptions:
    """:class:`SyncOptions` from ``cfg.remote``; ``checksum`` is an explicit choice (a flag)
    that wins over ``AWS_REQUEST_CHECKSUM_CALCULATION``, which wins over ``remote.checksum``."""
    from dlcli.remote import SyncOptions

    section = cfg.remote
    return SyncOptions(
        endpoint_url=section.endpoint_url or None,
        profile=section.profile or None,
        jobs=section.jobs,
        checksum=checksum,
        default_checksum=section.checksum,
        cache_dir=Path(section.cache_dir).expanduser() if section.cache_dir else None,
        timeout=section.timeout,
        **extra,
    )


def options_for(
    *locations: str | Path | None, endpoint_url: str | None = None, profile: str | None = None
) -> SyncOptions | None:
    """Options for the ``s3://`` locations among ``locations`` (``None`` when none is remote,
    so local work never reads more than it needs)."""
    if not any(str(loc).startswith("s3://") for loc in locations if loc):
        return None
    from dlcli.config import load_config

    return sync_options(load_config(None, _remote_overrides(endpoint_url, profile)))


def _remote_overrides(endpoint_url: str | None, profile: str | None, jobs: int | None = None) -> dict[str, Any]:
    given = {"remote.endpoint_url": endpoint_url, "remote.profile": profile, "remote.jobs": jobs}
    return {key: value for key, value in given.items() if value is not None}


def sync(
    direction: str,
    src: str,
    dest: str | None,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    jobs: int | None = None,
    checksum: str | None = None,
    dry_run: bool = False,
    delete: bool = False,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    on_total: Callable[[int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> SyncReport:
    """``push`` (local ``src`` to the remote ``dest``) or ``pull`` (remote ``src`` into the
    directory ``dest``); ``dest`` defaults to ``remote.url`` for push and ``.`` for pull."""
    from dlcli.config import check, load_config
    from dlcli.remote import pull, push

    cfg = load_config(None, _remote_overrides(endpoint_url, profile, jobs))
    if checksum is not None:
        check("remote.checksum", checksum)
    options = sync_options(
        cfg,
        checksum=checksum,
        dry_run=dry_run,
        delete=delete,
        include=include,
        exclude=exclude,
        on_total=on_total,
        on_bytes=on_bytes,
        on_notice=on_notice,
    )
    if direction == "push":
        return push(Path(src), dest or _default_remote(cfg), options)
    return pull(src, Path(dest or "."), options)


def check_push_to(cfg: Config) -> None:
    """Fail before training when ``remote.push_to`` cannot be written (an unreachable endpoint,
    no credentials, no bucket, no permission), instead of after the last epoch.

    One tiny object under a temporary name is written and deleted: only a write proves that
    the final push can write (a listing succeeds with read-only credentials). Its name is
    one that listings and syncs skip, so a probe a kill left behind is never pulled.
    """
    from dlcli.errors import RemoteError
    from dlcli.files import temp_name
    from dlcli.remote import open_store, parse_remote

    destination = cfg.remote.push_to
    if not destination:
        return
    import hashlib
    import tempfile

    body = b"dlcli write probe\n"
    key = temp_name("push-probe")
    try:
        store = open_store(parse_remote(destination), sync_options(cfg))
        with tempfile.TemporaryDirectory(prefix="dlcli-probe-") as folder:
            probe = Path(folder) / "probe"
            probe.write_bytes(body)
            store.put(probe, key, hashlib.sha256(body).hexdigest(), None)
        store.delete([key])  # best effort: a probe left behind is a temporary name, never synced
    except RemoteError as exc:
        why = exc.message.replace(f"/{key}", "")  # the probe's name means nothing to the user
        raise RemoteError(
            f"Cannot write to {setting('remote.push_to')} {destination}, so training did not start: {why}",
            hint=exc.raw_hint,
        ) from exc
    except OSError as exc:
        raise RemoteError(
            f"Cannot write to {setting('remote.push_to')} {destination}, so training did not start: "
            f"{exc.strerror or exc}.",
            hint="Check the directory and its permissions.",
        ) from exc


def push_command(cfg: Config, run_dir: Path, destination: str) -> str:
    """The ``dlcli push`` command that uploads ``run_dir`` to ``destination`` with this run's
    remote settings (endpoint, profile), as a user would paste it."""
    import shlex

    from dlcli.remote.url import redact_url

    words = ["dlcli", "push", str(run_dir), destination]
    if cfg.remote.endpoint_url:
        words += ["--endpoint-url", redact_url(cfg.remote.endpoint_url)]
    if cfg.remote.profile:
        words += ["--profile", cfg.remote.profile]
    return shlex.join(words)


def _default_remote(cfg: Config) -> str:
    if not cfg.remote.url:
        raise RemoteUsageError(
            f"No DEST given for push, and {setting('remote.url')} is not set.",
            hint=f"Pass DEST (dlcli push SRC DEST), or set {setting('remote.url')}.",
        )
    return cfg.remote.url
