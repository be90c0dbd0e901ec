"""fetch: a content-keyed local cache for s3:// datasets and models, reused by the next run.

The object is HEADed; the cache key is its SHA-256 metadata when dlcli wrote it, else its ETag
and size. A cached copy is used as is; a missing one is downloaded beside the cache entry,
verified and renamed into place, so a crash never leaves a partial file under the final name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from dlcli.errors import RemoteError, RemoteUsageError, setting
from dlcli.remote.settings import SyncOptions, cache_dir
from dlcli.remote.url import LocalRemote, parse_remote


def fetch(url: str, options: SyncOptions | None = None) -> Path:
    """A local path holding the content of ``url`` (local paths are returned unchanged)."""
    from dlcli.remote.s3 import S3Store
    from dlcli.remote.sync import download_verified
    from dlcli.remote.url import S3Remote

    remote = parse_remote(url)
    if isinstance(remote, LocalRemote):
        return remote.path
    if not remote.prefix:
        raise RemoteUsageError(f"'{url}' names a bucket, not an object.", hint="Use s3://bucket/path/to/file.")
    options = options or SyncOptions()
    parent, _, name = remote.prefix.rpartition("/")
    store = S3Store(S3Remote(remote.bucket, parent), options)
    state = store.single_object(name)
    if state is None:
        raise RemoteError(
            f"No such object {url} (endpoint {store.endpoint or 'AWS default'}).",
            hint="Check the path: a dry-run pull of its folder lists what is there.",
        )
    size, sha, etag = state.size, state.sha256, state.etag or ""
    content_id = f"sha256-{sha}" if sha else "etag-" + hashlib.sha256(f"{etag}:{size}".encode()).hexdigest()[:32]
    entry_dir = cache_dir(options) / "objects" / content_id
    target = entry_dir / PurePosixPath(name).name
    if target.is_file() and target.stat().st_size == size:
        return target
    entry_dir.mkdir(parents=True, exist_ok=True)
    try:
        return download_verified(store, name, entry_dir, state, None)
    except OSError as exc:
        raise RemoteError(
            f"Cannot write the cache entry for {url} in '{entry_dir}': {exc.strerror or exc}.",
            hint=f"Set {setting('remote.cache_dir')} or DLCLI_CACHE_DIR to a writable directory.",
        ) from exc
