"""fetch: a content-keyed local cache for s3:// datasets and models, reused by the next run.

The object is looked up once (``Store.stat``: one HEAD); the cache key is its SHA-256
metadata when dlcli wrote it, else its ETag and size. A cached copy is used as is; a missing
one is fetched with ``Store.get`` (verified, renamed into place), so a crash never leaves a
partial file under the final name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dlcli.errors import RemoteError, RemoteUsageError, setting
from dlcli.remote.settings import SyncOptions, cache_dir
from dlcli.remote.store import FileState, open_store
from dlcli.remote.url import LocalRemote, parse_remote


def fetch(url: str, options: SyncOptions | None = None) -> Path:
    """A local path holding the content of ``url`` (local paths are returned unchanged).

    Parameters
    ----------
    url : str
        ``s3://bucket/path/to/file`` or a local path.
    options : SyncOptions, optional
        Endpoint, credentials and the cache directory.
    """
    remote = parse_remote(url)
    if isinstance(remote, LocalRemote):
        return remote.path  # a local file needs no cache
    split = remote.as_object()
    if split is None:
        raise RemoteUsageError(
            f"'{url}' names a bucket or a folder, not an object.", hint="Use s3://bucket/path/to/file."
        )
    options = options or SyncOptions()
    parent, name = split
    store = open_store(parent, options)
    state = store.stat(name)
    if state is None:
        raise RemoteError(
            f"No such object {store.where(name)}.",
            hint="Check the path: a dry-run pull of its folder lists what is there.",
        )
    entry_dir = cache_dir(options) / "objects" / _content_id(state)
    target = entry_dir / name
    if target.is_file() and target.stat().st_size == state.size:
        return target
    try:
        return store.get(name, entry_dir, state, None)
    except OSError as exc:
        raise RemoteError(
            f"Cannot write the cache entry for {url} in '{entry_dir}': {exc.strerror or exc}.",
            hint=f"Set {setting('remote.cache_dir')} or DLCLI_CACHE_DIR to a writable directory.",
        ) from exc


def _content_id(state: FileState) -> str:
    """The cache entry's name: the SHA-256 when known, else a digest of ETag and size."""
    if state.sha256:
        return f"sha256-{state.sha256}"
    return "etag-" + hashlib.sha256(f"{state.etag or ''}:{state.size}".encode()).hexdigest()[:32]
