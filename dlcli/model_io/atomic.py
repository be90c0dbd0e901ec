"""Atomic file replacement: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success make it ``path`` durably.

    The caller writes and closes the file at the yielded path. Then it is fsynced, renamed
    over ``path`` (atomic on POSIX within one directory) and the directory is fsynced so the
    rename itself survives a crash. On any exception the temporary file is removed and
    ``path`` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = _create_temp(final)
    try:
        yield temp
        _fsync_file(temp)
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)


def _create_temp(final: Path) -> Path:
    """An empty new file in ``final``'s directory, hidden, with the usual umask mode."""
    while True:
        temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            # O_EXCL: never reuse someone else's file; 0o666 & ~umask, unlike mkstemp's 0o600.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename; some platforms (Windows) cannot open a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
