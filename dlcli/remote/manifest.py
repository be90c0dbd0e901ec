"""The manifest: files under an S3 prefix mapping each key to its size, ETag and SHA-256, so a
no-op push costs one listing and one read instead of a HEAD per file.

Safe with concurrent writers, on any S3-compatible store: a push never rewrites a manifest.
It writes a new one under a name of its own (``.dlcli-manifest.<time>-<nonce>.json``, see
:func:`~dlcli.remote.paths.new_manifest_name`) holding everything it listed and stored, and
only then deletes the manifests it read; a reader merges every manifest it lists
(:func:`merge`). A manifest another push wrote meanwhile was not read, so it is not deleted:
no entry is lost, whatever the interleaving. (Conditional writes, ``If-Match``, would keep one
file, but stores that do not support them — rclone's gateway among them — ignore the header
and silently lose updates.) ``.dlcli-manifest.json``, the one file of older releases, is read
the same way.

Pure functions (no network): the S3 store reads and writes the bytes. An entry is trusted
only while the listed size and ETag still match it; anything else in a file (another tool's
JSON, a damaged entry, an object replaced since) is ignored, which only costs HEADs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
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


def merge(bodies: Iterable[bytes], listing: Mapping[str, tuple[int, str]]) -> dict[str, FileState]:
    """The entries of every manifest in ``bodies`` that the listing (key -> size, ETag) still
    bears out; for a key several manifests name, one that matches wins."""
    merged: dict[str, FileState] = {}
    for body in bodies:
        for key, state in parse(body).items():
            listed = listing.get(key)
            if listed is not None and trusted_sha256(state, *listed) is not None:
                merged[key] = state
    return merged


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
