"""Remote URLs: ``s3://bucket/prefix`` or a local directory path (the embedded default).

Each URL class has a ``kind``, the key :func:`dlcli.remote.store.open_store` picks its backend by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dlcli.errors import RemoteUsageError, setting

# S3 bucket names: 3-63 of lowercase letters, digits, dots and hyphens (the AWS rules, loosely).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class LocalRemote:
    """A directory on this machine used as a remote."""

    kind: ClassVar[str] = "local"
    path: Path

    def as_object(self) -> tuple[LocalRemote, str] | None:
        """(parent, name) when the path may name one file rather than a directory."""
        return None if self.path.is_dir() or not self.path.name else (LocalRemote(self.path.parent), self.path.name)

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class S3Remote:
    """An S3 bucket and key prefix (no leading or trailing slash; ``""`` is the bucket root)."""

    kind: ClassVar[str] = "s3"
    bucket: str
    prefix: str
    trailing_slash: bool = False  # "s3://b/dir/" names a folder, "s3://b/file" may name one object

    def key(self, relative: str) -> str:
        """The full object key of a path relative to the prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def as_object(self) -> tuple[S3Remote, str] | None:
        """(parent prefix, name) when the URL may name one object (``s3://b/dir/file.h5``)."""
        if not self.prefix or self.trailing_slash:
            return None
        parent, _, name = self.prefix.rpartition("/")
        return S3Remote(self.bucket, parent), name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


Remote = LocalRemote | S3Remote


def is_s3_url(text: str) -> bool:
    """Whether ``text`` is an ``s3://`` URL (any case)."""
    return text.lower().startswith("s3://")


def parse_remote(url: str) -> Remote:
    """Parse ``s3://bucket/prefix`` or a local path into a Remote; other schemes are usage errors."""
    text = str(url).strip()
    if not text:
        raise RemoteUsageError("Empty remote URL.", hint="Use s3://bucket/prefix or a local directory.")
    if is_s3_url(text):
        rest = text[5:]
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.match(bucket):
            raise RemoteUsageError(
                f"Invalid bucket name '{bucket}' in '{text}'.",
                hint="Bucket names are 3-63 lowercase letters, digits, dots or hyphens: s3://bucket/prefix.",
            )
        parts = [p for p in prefix.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise RemoteUsageError(f"'.' and '..' are not allowed in an S3 prefix: '{text}'.")
        return S3Remote(bucket, "/".join(parts), trailing_slash=prefix.endswith("/"))
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://", text)
    if scheme:
        raise RemoteUsageError(
            f"Unsupported remote scheme '{scheme.group(1)}://' in '{text}'.",
            hint=f"Use s3://bucket/prefix (any S3-compatible store via {setting('remote.endpoint_url')}) "
            "or a local directory.",
        )
    return LocalRemote(Path(text).expanduser())
