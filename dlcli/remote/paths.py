"""Path safety (remote keys must land inside the destination directory, never outside it), and
the names sync never transfers: manifests and temporary files."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path, PurePosixPath

from dlcli.errors import RemoteError
from dlcli.files import is_temporary

# The one manifest of older releases; still read, and replaced by a writer's own (see manifest.py).
MANIFEST_NAME = ".dlcli-manifest.json"
# A writer's manifest: ".dlcli-manifest.<UTC time>-<nonce>.json", a new name for every push.
_MANIFEST = re.compile(r"^\.dlcli-manifest(?:\.[0-9A-Za-z-]+)?\.json$")
# Hidden temporary names of older releases and other writers (".model.h5.1a2b3c4d.tmp",
# ".preds.csv.tmp"): never data a user meant to sync.
_HIDDEN_TEMP = re.compile(r"^\..+\.tmp$")


def check_relative_key(key: str) -> str:
    """Return ``key`` if it is a clean relative path, else raise RemoteError.

    Refused: empty keys, absolute paths, ``..`` or ``.`` segments, backslashes and NUL bytes
    (a key written by another tool could otherwise write anywhere on this machine).
    """
    if not key or key.startswith("/") or "\\" in key or "\x00" in key or (len(key) > 1 and key[1] == ":"):
        raise RemoteError(f"Refusing unsafe key '{key}': it would land outside the destination.")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise RemoteError(f"Refusing unsafe key '{key}': it would land outside the destination.")
    return key


def safe_destination(root: Path, key: str) -> Path:
    """The local path for ``key`` under ``root``; refuses escapes and symlinks inside ``root``."""
    check_relative_key(key)
    target = root.joinpath(*PurePosixPath(key).parts)
    current = root
    for part in PurePosixPath(key).parts:
        current = current / part
        if current.is_symlink():
            raise RemoteError(
                f"Refusing to write '{key}': '{current}' is a symbolic link inside the destination.",
                hint="Remove the link, or pull into another directory.",
            )
    real_root = os.path.realpath(root)
    real_target = os.path.realpath(target)
    if os.path.commonpath([real_root, real_target]) != real_root:
        raise RemoteError(f"Refusing unsafe key '{key}': it would land outside '{root}'.")
    return target


def is_internal(key: str) -> bool:
    """Keys sync never transfers: manifests, the temporary files of :mod:`dlcli.files`
    (including the ones s3transfer derives from them while it downloads), and hidden ``*.tmp``
    files (older releases' temporary names)."""
    name = key.rsplit("/", 1)[-1]
    return is_manifest(name) or is_temporary(name) or bool(_HIDDEN_TEMP.match(name))


def is_manifest(name: str) -> bool:
    """Whether a file name is a manifest's: :data:`MANIFEST_NAME` or a writer's own."""
    return bool(_MANIFEST.match(name))


def new_manifest_name() -> str:
    """A manifest name no other writer uses: the UTC time (for people reading a listing) and a nonce."""
    return f".dlcli-manifest.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(6)}.json"
