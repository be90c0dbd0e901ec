"""The local-directory remote: the embedded default, so everything works offline and in tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dlcli.errors import RemoteError
from dlcli.files import atomic_path
from dlcli.remote.hashing import HashCache
from dlcli.remote.paths import is_internal, safe_destination
from dlcli.remote.plan import FileState


def list_local(root: Path, hashes: HashCache) -> dict[str, FileState]:
    """Relative POSIX path -> FileState (size, SHA-256) of every regular file under ``root``.

    A single file lists as ``{name: state}``. Symbolic links are not followed (a link could point
    anywhere on this machine); internal files (manifest, our temporaries) are left out.
    """
    return {key: FileState(path.stat().st_size, hashes.digest(path)[0]) for key, path in walk(root).items()}


def walk(root: Path) -> dict[str, Path]:
    """Relative POSIX path -> absolute path of every regular, non-internal file under ``root``."""
    if root.is_file():
        return {root.name: root}
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


def atomic_copy(source: Path, dest_root: Path, key: str) -> Path:
    """Copy ``source`` to ``dest_root/key`` through a temporary file in the same directory, then rename."""
    target = safe_destination(dest_root, key)
    with atomic_path(target) as temp, open(temp, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    return target


def delete_local(root: Path, key: str) -> None:
    """Remove ``root/key`` (refusing unsafe keys); a missing file is not an error."""
    try:
        safe_destination(root, key).unlink(missing_ok=True)
    except OSError as exc:
        raise RemoteError(f"Cannot delete '{root / key}': {exc.strerror or exc}.") from exc
