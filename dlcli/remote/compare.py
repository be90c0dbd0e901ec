"""The comparison strategy: do two file states hold the same content?

Content decides, never mtimes. Both sides usually carry a SHA-256 (every local file is hashed;
dlcli stores the hash with every object it writes). An object another tool wrote has only its
ETag: a plain MD5 for a single-part upload, ``<md5 of the parts' MD5s>-<parts>`` for a
multipart one. Then the local file is hashed into the same form, through a
:class:`LocalHasher`, and only for a pair that needs it (same size, foreign object). With a
fake hasher the whole decision is testable with no network and no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from dlcli.remote.store import FileState

_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART = re.compile(r"^[0-9a-f]{32}-[0-9]+$")


class Verdict(StrEnum):
    """The outcome of a comparison; ``UNKNOWN`` is transferred (re-sending is safe, skipping is not)."""

    SAME = "same"
    DIFFERENT = "different"
    UNKNOWN = "unknown"


def plain_md5(etag: str | None) -> str | None:
    """The MD5 an ETag stands for, or None for multipart/encrypted/other ETags."""
    if not etag:
        return None
    text = etag.strip('"').lower()
    return text if _PLAIN_MD5.match(text) else None


def is_multipart_etag(etag: str | None) -> bool:
    """An ETag of the form ``<md5 of the parts' MD5s>-<number of parts>``."""
    return bool(etag and _MULTIPART.match(etag.strip('"').lower()))


class LocalHasher(Protocol):
    """Hashes the local file of a key into the forms foreign objects are known by."""

    def md5(self, key: str) -> str | None:
        """Hex MD5 of the local file at ``key``."""
        ...

    def multipart_etag(self, key: str, etag: str) -> str | None:
        """The local file's ETag in the multipart form of ``etag``, when a likely part size
        reproduces it; None when none does."""
        ...


@dataclass(frozen=True)
class Comparator:
    """Decides same/different/unknown for a (source state, target state) pair.

    Parameters
    ----------
    hasher : LocalHasher, optional
        The local side's files. The side of a pair without a SHA-256 is the foreign object;
        the other side is the local file (local files always have one). Without a hasher a
        foreign object that no ETag settles is ``UNKNOWN``.
    """

    hasher: LocalHasher | None = None

    def compare(self, key: str, source: FileState, target: FileState) -> Verdict:
        """The verdict for ``key``, hashing the local file only when this pair needs it."""
        if source.size != target.size:
            return Verdict.DIFFERENT
        if source.sha256 and target.sha256:
            return _verdict(source.sha256 == target.sha256)
        if source.md5 and target.md5:
            return _verdict(source.md5 == target.md5)
        if source.sha256 is None and target.sha256 is None:
            return Verdict.UNKNOWN  # two foreign objects: nothing local to hash
        return self._settle(key, target if target.sha256 is None else source)

    def _settle(self, key: str, foreign: FileState) -> Verdict:
        if self.hasher is None:
            return Verdict.UNKNOWN
        if foreign.md5:
            md5 = self.hasher.md5(key)
            return Verdict.UNKNOWN if md5 is None else _verdict(md5 == foreign.md5)
        if foreign.etag and is_multipart_etag(foreign.etag):
            etag = foreign.etag.strip('"').lower()
            # No match may only mean another part size: unknown, not different.
            return Verdict.SAME if self.hasher.multipart_etag(key, etag) == etag else Verdict.UNKNOWN
        return Verdict.UNKNOWN


def _verdict(equal: bool) -> Verdict:
    return Verdict.SAME if equal else Verdict.DIFFERENT
