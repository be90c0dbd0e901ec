"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file dlcli writes under a final name (models and checkpoints, run-directory files,
predictions, pulled and cached objects, the hash cache) goes through :class:`AtomicFile`:
a new file with a unique name in the target's directory, written, flushed and fsynced, then
renamed over the target (atomic on POSIX within one directory), and the directory fsynced so
the rename itself survives a crash. On failure the temporary file is removed.

Temporary names start with :data:`TEMP_PREFIX` and name their writer (host and process id),
so listings (sync, push) skip them and :func:`sweep_temporary` can tell one left by a killed
process on this machine (its process is gone: removed at once) from one being written now
(kept); a temporary file of another machine on a shared file system is removed once stale.
A process's first write into a directory sweeps it, so whatever command writes there next
cleans up after a killed one. Temporary files are created with mode ``0o666 & ~umask`` (as
``open()`` would), not ``mkstemp``'s private ``0o600``: a shared directory stays readable.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = ".dlcli-tmp-"
# A temporary file untouched this long is abandoned, whoever wrote it (a build writes often).
STALE_TEMP_SECONDS = 3600
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_OWNER = re.compile(re.escape(TEMP_PREFIX) + r"([0-9a-f]{8})-(\d+)-")


# The hidden names earlier releases wrote (".model.h5.1a2b3c4d.tmp", MPI predict's
# ".p.csv.1a2b3c4d.part-0001.tmp"): theirs alone, so a sweep may remove them once stale.
_LEGACY_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}(\.part-\d{4})?\.tmp$")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :class:`AtomicFile`'s temporary names (or an earlier
    release's)."""
    return name.startswith(TEMP_PREFIX) or bool(_LEGACY_TEMP.match(name))


def temp_name(final_name: str) -> str:
    """A new temporary name for ``final_name``: the prefix, this host and process, a nonce."""
    # The final name is shortened so the temporary one stays within NAME_MAX (255).
    return f"{TEMP_PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(4)}-{final_name[:200]}"


def is_abandoned(path: Path, older_than: float = STALE_TEMP_SECONDS) -> bool:
    """Whether the temporary file ``path`` was left by a writer that is gone."""
    owner = _OWNER.match(path.name)
    if owner and owner.group(1) == _HOST and not _alive(int(owner.group(2))):
        return True
    try:
        return time.time() - path.stat().st_mtime > older_than
    except OSError:
        return False  # already gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a nonsense pid): leave its file to the age rule
    return True


_swept: set[Path] = set()


def _sweep_once(directory: Path) -> None:
    """The first write of a process into a directory sweeps what killed writers left there."""
    key = directory.resolve()
    if key not in _swept:
        _swept.add(key)
        sweep_temporary(directory)


def sweep_temporary(directory: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove the temporary files in ``directory`` whose writers are gone; returns how many."""
    removed = 0
    if not directory.is_dir():
        return 0
    for entry in directory.iterdir():
        try:
            if is_temporary(entry.name) and entry.is_file() and is_abandoned(entry, older_than):
                entry.unlink()
                removed += 1
        except OSError:
            continue  # another process swept it first
    return removed


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
        if self.path.is_dir():
            # Checked first, so the error names this path, not the temporary one.
            raise IsADirectoryError(errno.EISDIR, "Cannot write a file over a directory", str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _sweep_once(self.path.parent)
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
        temp = final.with_name(temp_name(final.name))
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
