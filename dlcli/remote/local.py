"""The local-directory store: the embedded default, so everything works offline and in tests.

It is also the local side of every sync (the tree pushed from, the directory pulled into) and
the :class:`~dlcli.remote.compare.LocalHasher` the comparison asks when an object another
tool wrote has to be compared by MD5 or multipart ETag.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from dlcli.errors import DlcliError, RemoteError
from dlcli.files import atomic_path, is_temporary, sweep_temporary
from dlcli.remote.hashing import CHUNK, HashCache, multipart_etag
from dlcli.remote.paths import is_internal, safe_destination
from dlcli.remote.store import Changes, FileState, Progress


class LocalStore:
    """Files under the directory ``root``, hashed through ``hashes``.

    Parameters
    ----------
    root : Path
        The directory. A missing one lists as empty (and is created by the first ``put``).
    hashes : HashCache
        Where the SHA-256 of unchanged files is remembered between runs.
    """

    def __init__(self, root: Path, hashes: HashCache) -> None:
        self.root = Path(root)
        self.hashes = hashes

    def path(self, key: str) -> Path:
        """The local path of ``key`` (for reading; writes go through :func:`safe_destination`)."""
        return self.root.joinpath(*PurePosixPath(key).parts)

    def states(self) -> dict[str, FileState]:
        """Every regular file under the root (symbolic links are not followed: one could point
        anywhere on this machine), with its size and SHA-256."""
        return {key: self._state(path) for key, path in walk(self.root).items()}

    def stat(self, key: str) -> FileState | None:
        """The file the user named as ``key`` (a symbolic link named this way is followed)."""
        path = self.path(key)
        return self._state(path) if not is_internal(key) and path.is_file() else None

    def _state(self, path: Path) -> FileState:
        return FileState(path.stat().st_size, self.hashes.digest(path)[0])

    def put(self, path: Path, key: str, sha256: str, on_bytes: Progress) -> FileState:
        target = copy_verified(path, self.root, key, sha256, on_bytes)
        return FileState(target.stat().st_size, sha256)

    def get(self, key: str, dest_root: Path, state: FileState, on_bytes: Progress) -> Path:
        return copy_verified(self.path(key), dest_root, key, state.sha256, on_bytes)

    def delete(self, keys: Sequence[str]) -> dict[str, str]:
        failed: dict[str, str] = {}
        for key in keys:
            try:
                safe_destination(self.root, key).unlink(missing_ok=True)
            except DlcliError as exc:
                failed[key] = exc.message
            except OSError as exc:
                failed[key] = f"Cannot delete {self.where(key)}: {exc.strerror or exc}."
        return failed

    def recover(self) -> str | None:
        """Remove the temporary files killed writers left in the tree (:func:`dlcli.files.sweep_temporary`:
        at once when their process on this machine is gone, else once stale)."""
        removed = 0
        if self.root.is_dir():
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
                if any(is_temporary(name) for name in filenames):  # sweep only where there is something
                    removed += sweep_temporary(Path(dirpath))
        if not removed:
            return None
        return f"Removed {removed} temporary file(s) left by interrupted transfers in {self.where()}."

    def finish(self, changes: Changes) -> None:
        """Nothing to commit: each file was renamed into place, complete, as it was written."""

    def where(self, key: str = "") -> str:
        return f"'{self.path(key) if key else self.root}'"

    def absent(self) -> str | None:
        return None if self.root.exists() else f"{self.where()} does not exist"

    # LocalHasher, for the comparison with objects other tools wrote.

    def md5(self, key: str) -> str | None:
        return self.hashes.digest(self.path(key), md5=True)[1]

    def multipart_etag(self, key: str, etag: str) -> str | None:
        return multipart_etag(self.path(key), etag)


def walk(root: Path) -> dict[str, Path]:
    """Relative POSIX path -> path of every regular, non-internal file under the directory ``root``."""
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            key = path.relative_to(root).as_posix()
            if not is_internal(key):
                found[key] = path
    return found


def copy_verified(source: Path, dest_root: Path, key: str, sha256: str | None, on_bytes: Progress) -> Path:
    """Copy ``source`` to ``dest_root/key`` through a temporary file renamed into place,
    hashing as it copies: a file that changed since it was listed is not kept."""
    target = safe_destination(dest_root, key)
    with atomic_path(target) as temp:
        digest = hashlib.sha256()
        with open(source, "rb") as src, open(temp, "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        if sha256 and digest.hexdigest() != sha256:
            raise RemoteError(f"'{key}' changed while it was copied; nothing was kept.")
    return target
