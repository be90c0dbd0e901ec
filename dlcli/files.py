"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file dlcli writes under a final name (models and checkpoints, run-directory files,
predictions, pulled and cached objects, the hash cache) goes through :class:`AtomicFile`:
a new file with a unique name in the target's directory, written, flushed and fsynced, then
renamed over the target (atomic on POSIX within one directory), and the directory fsynced so
the rename itself survives a crash. On failure the temporary file is removed.

Temporary names start with :data:`TEMP_PREFIX`, so listings (sync) skip them and a sweep can
recognise one left by a killed process. They are created with mode ``0o666 & ~umask`` (as
``open()`` would), not ``mkstemp``'s private ``0o600``: a shared directory stays readable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = ".dlcli-tmp-"


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :class:`AtomicFile`'s temporary names."""
    return name.startswith(TEMP_PREFIX)


class AtomicFile:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit`.

    Parameters
    ----------
    path : str or Path
        The final name. Its directory is created when missing.

    Attributes
    ----------
    path : Path
        The final name.
    temp : Path
        The temporary file, created empty; write it by name or through :meth:`open`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temp = _create_temp(self.path)
        self._done = False

    def open(self, mode: str = "wb", **kwargs: Any) -> IO[Any]:
        """Open the temporary file (``"wb"``, ``"w"``, …); close it before :meth:`commit`."""
        return open(self.temp, mode, **kwargs)  # the caller owns (and closes) the handle

    def commit(self) -> Path:
        """Fsync the temporary file, rename it over :attr:`path`, fsync the directory."""
        try:
            _fsync_path(self.temp)
            os.replace(self.temp, self.path)
        except BaseException:
            self.discard()
            raise
        self._done = True
        _fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; :attr:`path` is left as it was."""
        if not self._done:
            self.temp.unlink(missing_ok=True)
            self._done = True


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path`` durably.

    The caller writes and closes the file at the yielded path. On any exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = AtomicFile(path)
    try:
        yield target.temp
    except BaseException:
        target.discard()
        raise
    target.commit()


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` atomically with UTF-8 ``text``."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` atomically with ``data``."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def _create_temp(final: Path) -> Path:
    """An empty new file in ``final``'s directory, hidden, with the usual umask mode."""
    while True:
        # The final name is shortened so the temporary one stays within NAME_MAX (255).
        temp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}-{final.name[:200]}")
        try:
            # O_EXCL: never reuse someone else's file; 0o666 & ~umask, unlike mkstemp's 0o600.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _fsync_path(path: Path) -> None:
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
