"""Remote URLs: ``s3://bucket/prefix`` or a local directory path (the embedded default), the
S3 endpoint URL's check, and :func:`redact_url`, which every message naming a URL goes through.

Each URL class has a ``kind``, the key :func:`dlcli.remote.store.open_store` picks its backend by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from dlcli.errors import RemoteUsageError, setting

# S3 bucket names: 3-63 of lowercase letters, digits, dots and hyphens (the AWS rules, loosely).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")
# "scheme://" and the userinfo before the host, wherever a URL sits in a text. The userinfo runs
# to the last "@" before a space, a quote, "?" or "#": a password may contain "@" or even "/"
# (unescaped, which is invalid but must not leak either); the price is that a rare "@" in a
# URL's path after a ":" is redacted too.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^\s'\"<>?#]*)@")
_HOSTNAME = re.compile(r"^(?:[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*\.?|[0-9a-f:.]*:[0-9a-f:.]*)$")
ENDPOINT_SCHEMES = ("http", "https")
REDACTED = "***"


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo replaced by ``***``, safe to print or save.

    ``http://user:secret@127.0.0.1:9000`` becomes ``http://user:***@127.0.0.1:9000``; a URL
    without a password, and text that is not a URL, come back unchanged. Every URL inside a
    longer text (an exception's message quoting the endpoint) is redacted the same way.
    """
    return _USERINFO.sub(_redact_userinfo, str(url))


def _redact_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:{REDACTED}@" if colon else match.group(0)


def check_endpoint_url(url: str, source: str) -> str:
    """``url`` stripped, if it is ``http(s)://HOST[:PORT][/path]``; else a RemoteUsageError
    naming ``source`` (a :func:`~dlcli.errors.setting` mention or an environment variable)."""
    text = url.strip()
    hint = "Give the address of the S3 API, e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com."

    def invalid(why: str) -> RemoteUsageError:
        return RemoteUsageError(f"Invalid S3 endpoint URL '{redact_url(url)}' from {source}: {why}.", hint=hint)

    if "://" not in text or any(c.isspace() for c in text):
        raise invalid("expected http://HOST[:PORT] or https://HOST[:PORT]")
    split = urlsplit(text)
    if split.scheme.lower() not in ENDPOINT_SCHEMES:
        raise invalid(f"the scheme is '{split.scheme}', expected http or https")
    if not split.hostname or not _HOSTNAME.match(split.hostname):
        raise invalid("it names no valid host")
    try:
        split.port  # noqa: B018 -- raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise invalid("the port is not a number from 0 to 65535") from None
    return text


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
    shown = redact_url(text)  # an s3:// or https:// URL given by mistake may carry a password
    if not text:
        raise RemoteUsageError("Empty remote URL.", hint="Use s3://bucket/prefix or a local directory.")
    if is_s3_url(text):
        rest = text[5:]
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.match(bucket):
            raise RemoteUsageError(
                f"Invalid bucket name '{shown[5:].partition('/')[0]}' in '{shown}'.",
                hint="Bucket names are 3-63 lowercase letters, digits, dots or hyphens: s3://bucket/prefix.",
            )
        parts = [p for p in prefix.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise RemoteUsageError(f"'.' and '..' are not allowed in an S3 prefix: '{shown}'.")
        return S3Remote(bucket, "/".join(parts), trailing_slash=prefix.endswith("/"))
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://", text)
    if scheme:
        raise RemoteUsageError(
            f"Unsupported remote scheme '{scheme.group(1)}://' in '{shown}'.",
            hint=f"Use s3://bucket/prefix (any S3-compatible store via {setting('remote.endpoint_url')}) "
            "or a local directory.",
        )
    return LocalRemote(Path(text).expanduser())
