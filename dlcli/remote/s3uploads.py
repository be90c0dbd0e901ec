"""Multipart uploads a killed push left behind: found under the prefix and aborted.

A multipart upload that is neither completed nor aborted keeps its parts (stored, billed,
invisible in listings) forever. s3transfer aborts the upload of a transfer that fails, but a
killed process (SIGKILL, out of memory, a CI job's timeout, a power cut) aborts nothing. So a
push first lists the multipart uploads under its prefix and aborts the stale ones: started
more than :data:`STALE_SECONDS` ago with no part uploaded for as long. A live upload sends a
part every few seconds (a 16 MiB part takes minutes even on a slow link; much longer, and its
read timeout fails it), so an hour without a part means its writer is gone, whichever tool or
machine started it; a concurrent push's upload is never touched. Ages are measured on the
server's clock (the listing's ``Date`` header): a skewed local clock cannot make one stale.

The uploads are not marked as dlcli's: S3 lists only key, upload id, initiator and start
time, and marking through the key would need a copy of every large object. The idle rule
needs no mark.

Listing uploads is a permission not every policy grants and an API not every store
implements: then nothing is cleaned, and the push goes on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from dlcli.files import STALE_TEMP_SECONDS
from dlcli.remote.s3errors import transfer_errors

# The same hour after which a temporary file is abandoned (dlcli.files).
STALE_SECONDS = STALE_TEMP_SECONDS


def is_stale(initiated: datetime, newest_part: datetime | None, now: datetime, older_than: float) -> bool:
    """Whether an upload started at ``initiated`` whose last part arrived at ``newest_part``
    (None: no part yet) has been idle for more than ``older_than`` seconds at ``now``."""
    last = initiated if newest_part is None else max(initiated, newest_part)
    return (now - last).total_seconds() > older_than


def abort_stale(client: Any, bucket: str, prefix: str, older_than: float | None = None) -> list[str]:
    """Abort the stale multipart uploads under ``prefix`` (``""``: the whole bucket); returns
    their keys. Never raises for a request the server refuses: cleaning up is best effort."""
    limit = STALE_SECONDS if older_than is None else older_than
    aborted: list[str] = []
    try:
        pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            now = _server_time(page)
            for upload in page.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                if not is_stale(upload["Initiated"], None, now, limit):
                    continue
                if is_stale(upload["Initiated"], _newest_part(client, bucket, key, upload_id), now, limit):
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                    aborted.append(key)
    except transfer_errors():
        pass  # not allowed, not implemented, or gone meanwhile: what was aborted stays aborted
    return aborted


def _newest_part(client: Any, bucket: str, key: str, upload_id: str) -> datetime | None:
    newest: datetime | None = None
    for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
        for part in page.get("Parts", []):
            if newest is None or part["LastModified"] > newest:
                newest = part["LastModified"]
    return newest


def _server_time(page: dict[str, Any]) -> datetime:
    date = page.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        parsed = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
