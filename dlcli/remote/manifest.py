"""The manifest: ``.dlcli-manifest.json`` under an S3 prefix, mapping each key to its size,
ETag and SHA-256, so a no-op push costs one listing and one read instead of a HEAD per file.

Pure functions (no network): the S3 store reads and writes the bytes. An entry is trusted
only while the listed size and ETag still match it; anything else in the file (another
tool's JSON, a damaged entry) is ignored, which only costs HEADs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from dlcli.remote.store import FileState

FORMAT = "dlcli-manifest"
VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse(body: bytes) -> dict[str, FileState]:
    """Key -> (size, sha256, etag) of every well-formed entry; ``{}`` for a foreign file."""
    try:
        document = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return {}
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, dict):
        return {}
    return {key: state for key, entry in files.items() if (state := _entry(entry)) is not None}


def _entry(entry: Any) -> FileState | None:
    if not isinstance(entry, dict):
        return None
    size, sha, etag = entry.get("size"), entry.get("sha256"), entry.get("etag")
    if isinstance(size, int) and isinstance(sha, str) and _SHA256.match(sha) and isinstance(etag, str):
        return FileState(size, sha, None, etag)
    return None


def trusted_sha256(entry: FileState | None, size: int, etag: str) -> str | None:
    """The entry's SHA-256 when the listed object still has its size and ETag, else None."""
    if entry is None or entry.size != size or entry.etag != etag:
        return None
    return entry.sha256


def render(states: Mapping[str, FileState]) -> bytes:
    """The manifest for the states that have a SHA-256 and an ETag."""
    files = {
        key: {"size": s.size, "sha256": s.sha256, "etag": s.etag}
        for key, s in sorted(states.items())
        if s.sha256 and s.etag is not None
    }
    return json.dumps({"format": FORMAT, "version": VERSION, "files": files}, sort_keys=True).encode()
