"""The Store protocol: what sync, fetch and the background uploader need from a backend.

A store is one location (a local directory, an S3 bucket and prefix) holding files under
relative POSIX keys. It lists their states, uploads a local file under a key (``put``),
downloads a key into a local directory, verified and atomically (``get``), deletes keys,
clears what a killed sync left before one writes there (``recover``), and commits at the end
(``finish``: the S3 store writes its manifest there). The sync pipeline in
:mod:`dlcli.remote.sync` talks to every backend through these methods only.

:func:`open_store` is the one place that picks a backend, from a small registry keyed by the
URL's ``kind``. A new backend is a URL class in :mod:`dlcli.remote.url` (with a ``kind``), a
class with these methods, and one entry in :data:`OPENERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dlcli.errors import RemoteUsageError

if TYPE_CHECKING:
    from dlcli.remote.hashing import HashCache
    from dlcli.remote.settings import SyncOptions
    from dlcli.remote.url import Remote

Progress = Callable[[int], None] | None  # called with byte increments (negative on a restart)


@dataclass(frozen=True)
class FileState:
    """What is known about one file on one side; ``None`` fields are unknown.

    Attributes
    ----------
    size : int
        Length in bytes.
    sha256 : str or None
        Hex SHA-256: always known for local files; for objects, when dlcli wrote them.
    md5 : str or None
        The MD5 a plain (single-part) ETag stands for.
    etag : str or None
        The object's ETag as listed (unquoted), e.g. a multipart ``"<hex>-<parts>"``.
    """

    size: int
    sha256: str | None = None
    md5: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class Changes:
    """What a sync changed in a store, given to :meth:`Store.finish`.

    ``stored`` maps each key written to the state :meth:`Store.put` returned for it.
    """

    stored: Mapping[str, FileState] = field(default_factory=dict)
    deleted: Sequence[str] = ()


class Store(Protocol):
    """One location holding files under relative POSIX keys (``"run/model.h5"``).

    Methods may be called from several threads at once (``put``, ``get``); the others are
    called from one thread. Failures raise :class:`~dlcli.errors.RemoteError` (or
    ``OSError`` for local files), naming the location.
    """

    def states(self) -> dict[str, FileState]:
        """Relative key -> state of every file, internal files (manifest, temporaries) left out."""
        ...

    def stat(self, key: str) -> FileState | None:
        """The state of the one file at ``key``, or None when there is none."""
        ...

    def put(self, path: Path, key: str, sha256: str, on_bytes: Progress) -> FileState:
        """Store the local file ``path`` under ``key``; returns the stored state (for the manifest)."""
        ...

    def get(self, key: str, dest_root: Path, state: FileState, on_bytes: Progress) -> Path:
        """Write ``key`` to ``dest_root/key``, verified against ``state`` (SHA-256, else a plain
        MD5) and renamed into place, so no partial file ever appears under the final name."""
        ...

    def delete(self, keys: Sequence[str]) -> dict[str, str]:
        """Delete ``keys``; returns the ones that could not be deleted, with the reason."""
        ...

    def recover(self) -> str | None:
        """Clear what an interrupted sync left here, before a sync writes here; returns a line
        for the user when something was cleared (a directory: its abandoned temporary files;
        S3: the stale multipart uploads under the prefix)."""
        ...

    def finish(self, changes: Changes) -> None:
        """Commit after a sync wrote to this store (the S3 store writes its manifest)."""
        ...

    def where(self, key: str = "") -> str:
        """``key`` (or the root) as messages name it, e.g. ``s3://b/p/k (endpoint …)``."""
        ...

    def absent(self) -> str | None:
        """Why this location names nothing to pull from (None when it names something).

        Called after :meth:`states` found nothing: an empty local directory exists, an S3
        prefix exists only through its objects.
        """
        ...


Opener = Callable[[Any, "SyncOptions", "HashCache"], Store]


def _open_local(remote: Any, options: SyncOptions, hashes: HashCache) -> Store:
    from dlcli.remote.local import LocalStore

    return LocalStore(remote.path, hashes)


def _open_s3(remote: Any, options: SyncOptions, hashes: HashCache) -> Store:
    from dlcli.remote.s3 import S3Store  # boto3 is imported only on this path

    return S3Store(remote, options)


OPENERS: dict[str, Opener] = {"local": _open_local, "s3": _open_s3}


def open_store(remote: Remote, options: SyncOptions, *, hashes: HashCache | None = None) -> Store:
    """The store for ``remote`` (from :func:`~dlcli.remote.url.parse_remote`).

    Parameters
    ----------
    remote : LocalRemote or S3Remote
        Where the files are.
    options : SyncOptions
        Endpoint, credentials, parallelism for the backends that need them.
    hashes : HashCache, optional
        Shared cache of local files' hashes; an in-memory one when not given.
    """
    from dlcli.remote.hashing import HashCache

    opener = OPENERS.get(remote.kind)
    if opener is None:
        raise RemoteUsageError(f"No backend for '{remote}'.", hint="Expected one of: " + ", ".join(OPENERS) + ".")
    return opener(remote, options, hashes if hashes is not None else HashCache(None))
