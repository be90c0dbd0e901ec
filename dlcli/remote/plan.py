"""Sync planning: a pure function from the two sides' file states to a list of actions.

No network, no file system: the compare step has already filled in what is known about each
side (size, SHA-256, and for foreign objects a plain-MD5 or multipart ETag), so the decision is testable
over pairs of file states alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART = re.compile(r"^[0-9a-f]{32}-[0-9]+$")


@dataclass(frozen=True)
class FileState:
    """What is known about one file on one side; ``None`` fields are unknown."""

    size: int
    sha256: str | None = None
    md5: str | None = None  # a plain-MD5 ETag (remote) or the local file's MD5 when it was needed
    etag: str | None = None  # the remote ETag; locally, a multipart ETag computed to match a foreign one


class Op(StrEnum):
    TRANSFER = "transfer"
    SKIP = "skip"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    op: Op
    key: str
    size: int = 0


def plain_md5(etag: str | None) -> str | None:
    """The MD5 an ETag stands for, or None for multipart/encrypted/other ETags."""
    if not etag:
        return None
    text = etag.strip('"').lower()
    return text if _PLAIN_MD5.match(text) else None


def is_multipart_etag(etag: str | None) -> bool:
    """An ETag of the form ``<md5 of the parts' MD5s>-<number of parts>``."""
    return bool(etag and _MULTIPART.match(etag.strip('"').lower()))


def same_content(source: FileState, target: FileState) -> bool | None:
    """True/False when the content is known equal/different, None when it cannot be told."""
    if source.size != target.size:
        return False
    if source.sha256 and target.sha256:
        return source.sha256 == target.sha256
    if source.md5 and target.md5:
        return source.md5 == target.md5
    if source.etag and target.etag and is_multipart_etag(source.etag):
        return source.etag == target.etag
    return None


def plan(source: dict[str, FileState], target: dict[str, FileState], *, delete: bool = False) -> list[Action]:
    """Actions that make ``target`` hold ``source``'s content, in key order.

    A file is transferred when it is missing on the target or its content differs or cannot be
    told equal (unknown is treated as different: re-sending is safe, skipping is not). With
    ``delete``, target files absent from the source are deleted.
    """
    actions = []
    for key in sorted(source):
        state = source[key]
        existing = target.get(key)
        equal = same_content(state, existing) if existing is not None else False
        actions.append(Action(Op.SKIP if equal else Op.TRANSFER, key, state.size))
    if delete:
        actions.extend(Action(Op.DELETE, key, target[key].size) for key in sorted(set(target) - set(source)))
    return actions
