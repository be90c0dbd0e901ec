"""File hashing with a cache keyed by (size, mtime_ns, inode), so unchanged files are not re-read.

The cache lives in ``<cache dir>/hashes.json``. An edit that keeps the size and lands in the
same second still changes ``mtime_ns``; a file replaced by rename changes the inode. Files
modified in the last two seconds are not cached (the "racily clean" case: a write after hashing
could share the timestamp on coarse filesystems).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from dlcli.errors import RemoteError
from dlcli.files import write_text
from dlcli.remote.store import FileState

CHUNK = 1 << 20
RACY_SECONDS = 2.0


def hash_file(path: Path, *, md5: bool = False) -> tuple[str, str | None]:
    """(sha256 hex, md5 hex or None) of a file, read in 1 MiB chunks."""
    sha = hashlib.sha256()
    md = hashlib.md5(usedforsecurity=False) if md5 else None
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            if md is not None:
                md.update(chunk)
    return sha.hexdigest(), (md.hexdigest() if md is not None else None)


def check_download(path: Path, key: str, expected: FileState) -> None:
    """Raise RemoteError unless ``path`` has the SHA-256 of ``expected`` (or, for an object
    another tool wrote, the MD5 of its plain ETag; a multipart ETag cannot be checked)."""
    foreign_md5 = expected.md5 if expected.sha256 is None else None
    sha, md5 = hash_file(path, md5=foreign_md5 is not None)
    if expected.sha256 and sha != expected.sha256:
        raise RemoteError(
            f"Checksum mismatch for '{key}': expected SHA-256 {expected.sha256}, got {sha}.",
            hint="The object changed during the download or is corrupt; pull again.",
        )
    if foreign_md5 and md5 != foreign_md5:
        raise RemoteError(f"Checksum mismatch for '{key}': the ETag MD5 {foreign_md5} does not match the download.")


# Part sizes other tools use (aws CLI and boto3: 8 MiB; dlcli: 16 MiB; others 5-128 MiB).
COMMON_PART_SIZES_MIB = (8, 16, 5, 15, 32, 64, 100, 128)


def multipart_etag(path: Path, etag: str) -> str | None:
    """The local file's ETag in the multipart form of ``etag`` ("<hex>-<parts>"), if a likely
    part size reproduces it; None when none does (then the content cannot be told equal)."""
    parts = int(etag.rsplit("-", 1)[1])
    size = path.stat().st_size
    mib = 1024 * 1024
    candidates = [n * mib for n in COMMON_PART_SIZES_MIB] + [-(-size // parts // mib) * mib]
    for part_size in dict.fromkeys(c for c in candidates if c > 0 and -(-size // c) == parts):
        if (computed := _multipart_etag(path, part_size, parts)) == etag:
            return computed
    return None


def _multipart_etag(path: Path, part_size: int, parts: int) -> str:
    digests = bytearray()
    with open(path, "rb") as f:
        for _ in range(parts):
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left and (chunk := f.read(min(CHUNK, left))):
                part.update(chunk)
                left -= len(chunk)
            digests += part.digest()
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{parts}"


class HashCache:
    """Thread-safe (path -> size, mtime_ns, inode, sha256, md5) store, loaded once and saved once."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
            except (OSError, ValueError):
                loaded = {}  # a corrupt cache is only a slower run
            if isinstance(loaded, dict):
                self._entries = {k: v for k, v in loaded.items() if isinstance(v, list) and len(v) == 5}

    def digest(self, path: Path, *, md5: bool = False) -> tuple[str, str | None]:
        """(sha256, md5) of ``path``; md5 only when asked (computed then, and cached).

        Files modified within :data:`RACY_SECONDS` are hashed but not cached.
        """
        st = path.stat()
        key = os.path.abspath(path)
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry[:3] == [st.st_size, st.st_mtime_ns, st.st_ino] and (entry[4] or not md5):
            return entry[3], entry[4]
        sha, md = hash_file(path, md5=md5)
        if time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS:
            with self._lock:
                self._entries[key] = [st.st_size, st.st_mtime_ns, st.st_ino, sha, md]
                self._dirty = True
        return sha, md

    def save(self) -> None:
        """Write the cache atomically; failures are ignored (the cache is an optimisation)."""
        if self.path is None or not self._dirty:
            return
        with self._lock:
            text = json.dumps(self._entries, separators=(",", ":"))
        with contextlib.suppress(OSError):
            write_text(self.path, text)
