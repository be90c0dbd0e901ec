"""Path safety: remote keys must land inside the destination directory, never outside it."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from dlcli.errors import RemoteError
from dlcli.files import is_temporary

MANIFEST_NAME = ".dlcli-manifest.json"


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
    """Keys sync never transfers: the manifest and the temporary files of :mod:`dlcli.files`
    (including the ones s3transfer derives from them while it downloads)."""
    name = key.rsplit("/", 1)[-1]
    return name == MANIFEST_NAME or is_temporary(name)
