"""The S3 backend: a boto3 client (imported lazily), listing with the manifest, and transfers.

Small files go through one ``put_object`` each (it returns the ETag the manifest records, and
costs less CPU than the transfer manager per file); files at or above the multipart threshold go
through boto3's ``upload_file`` with a ``TransferConfig``, which aborts a failed multipart upload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlcli.remote.paths import MANIFEST_NAME, is_internal
from dlcli.remote.plan import FileState, plain_md5
from dlcli.remote.s3errors import is_missing, transfer_errors, translate
from dlcli.remote.settings import SyncOptions, checksum_modes, resolve_endpoint
from dlcli.remote.url import S3Remote

MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
STREAM_ATTEMPTS = 3  # whole-body re-reads of a small GET cut off mid-stream
META_KEY = "sha256"  # x-amz-meta-sha256


class S3Store:
    """One bucket/prefix with a configured client; errors become RemoteErrors naming bucket, key, endpoint."""

    def __init__(self, remote: S3Remote, options: SyncOptions) -> None:
        import boto3
        from botocore.config import Config

        self.remote = remote
        self.endpoint = resolve_endpoint(options)
        request, response = checksum_modes(options)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 5},
            max_pool_connections=max(10, options.jobs + 2),
            request_checksum_calculation=request,
            response_checksum_validation=response,
        )
        session = boto3.session.Session(profile_name=options.profile) if options.profile else boto3.session.Session()
        try:
            self.client = session.client("s3", endpoint_url=self.endpoint, config=config)
        except Exception as exc:  # ProfileNotFound, bad endpoint URL
            raise translate(exc, remote.bucket, remote.prefix, self.endpoint) from exc
        self.jobs = options.jobs
        self.manifest_misses = 0  # SHA-256s found by HEAD, not in the manifest (see ``states``)

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=self.jobs,
            use_threads=True,
        )

    def error(self, exc: BaseException, key: str | None = None) -> Exception:
        return translate(exc, self.remote.bucket, key, self.endpoint)

    def list(self) -> dict[str, dict[str, Any]]:
        """Relative key -> {"size", "etag"} under the prefix (one paginated listing)."""
        prefix = self.remote.key("") if self.remote.prefix else ""
        found: dict[str, dict[str, Any]] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.remote.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix) :]
                    if rel:
                        found[rel] = {"size": obj["Size"], "etag": obj.get("ETag", "").strip('"')}
        except Exception as exc:
            raise self.error(exc, prefix or None) from exc
        return found

    def read_manifest(self) -> dict[str, dict[str, Any]]:
        """The manifest's entries; ``{}`` when there is none, or it is not a dlcli manifest
        (that only costs HEADs). Any other failure (credentials, permissions, the network)
        raises: it must not pass for "no manifest"."""
        key = self.remote.key(MANIFEST_NAME)
        try:
            body = self.client.get_object(Bucket=self.remote.bucket, Key=key)["Body"].read()
        except transfer_errors() as exc:
            if is_missing(exc):
                return {}
            raise self.error(exc, key) from exc
        try:
            files = json.loads(body).get("files", {})
        except (ValueError, AttributeError):  # not JSON, not UTF-8, or not a JSON object
            return {}
        return files if isinstance(files, dict) else {}

    def write_manifest(self, entries: dict[str, dict[str, Any]]) -> None:
        body = json.dumps({"format": "dlcli-manifest", "version": 1, "files": entries}, sort_keys=True).encode()
        try:
            self.client.put_object(
                Bucket=self.remote.bucket, Key=self.remote.key(MANIFEST_NAME), Body=body, ContentType="application/json"
            )
        except Exception as exc:
            raise self.error(exc, self.remote.key(MANIFEST_NAME)) from exc

    def states(self) -> tuple[dict[str, FileState], dict[str, dict[str, Any]]]:
        """FileStates of the remote files: SHA-256 from the manifest when its size+ETag still match,
        else from the object's metadata (one HEAD), else only size and a plain-MD5 ETag."""
        listing = self.list()
        manifest = self.read_manifest()
        states: dict[str, FileState] = {}
        for rel, obj in listing.items():
            if is_internal(rel):
                continue
            entry = manifest.get(rel)
            sha = (
                entry.get("sha256")
                if entry and entry.get("size") == obj["size"] and entry.get("etag") == obj["etag"]
                else None
            )
            if sha is None:
                sha = self.head_sha256(rel)
                self.manifest_misses += sha is not None
            states[rel] = FileState(obj["size"], sha, plain_md5(obj["etag"]), obj["etag"])
        return states, listing

    def single_object(self, rel: str) -> FileState | None:
        """The state of the one object at ``rel`` (for ``s3://bucket/path/file``), or None if absent."""
        try:
            head = self.client.head_object(Bucket=self.remote.bucket, Key=self.remote.key(rel))
        except transfer_errors() as exc:
            if is_missing(exc):
                return None
            raise self.error(exc, self.remote.key(rel)) from exc
        etag = str(head.get("ETag", "")).strip('"')
        return FileState(int(head["ContentLength"]), head.get("Metadata", {}).get(META_KEY), plain_md5(etag), etag)

    def head_sha256(self, rel: str) -> str | None:
        """The SHA-256 dlcli stored in the object's metadata; None for a foreign object or one
        deleted since the listing. Any other failure raises."""
        state = self.single_object(rel)
        return state.sha256 if state is not None else None

    def upload(self, path: Path, rel: str, sha256: str, on_bytes: Callable[[int], None] | None) -> str:
        """Upload one file with its SHA-256 in the metadata; returns the new ETag."""
        key = self.remote.key(rel)
        size = path.stat().st_size
        try:
            if size < MULTIPART_THRESHOLD:
                with open(path, "rb") as body:
                    etag = self.client.put_object(
                        Bucket=self.remote.bucket, Key=key, Body=body, Metadata={META_KEY: sha256}
                    )["ETag"]
                if on_bytes:
                    on_bytes(size)
            else:
                self.client.upload_file(
                    str(path),
                    self.remote.bucket,
                    key,
                    ExtraArgs={"Metadata": {META_KEY: sha256}},
                    Config=self.transfer_config(),
                    Callback=on_bytes,
                )
                etag = self.client.head_object(Bucket=self.remote.bucket, Key=key)["ETag"]
        except Exception as exc:
            raise self.error(exc, key) from exc
        return str(etag).strip('"')

    def download(self, rel: str, tmp: Path, on_bytes: Callable[[int], None] | None, size: int | None = None) -> None:
        """Download ``rel`` into ``tmp``: one GET when the listing says it is small, else the
        transfer manager (which HEADs first, then fetches ranges in parallel)."""
        key = self.remote.key(rel)
        try:
            if size is not None and size < MULTIPART_THRESHOLD:
                self._get_small(key, tmp, on_bytes)
            else:
                self.client.download_file(
                    self.remote.bucket, key, str(tmp), Config=self.transfer_config(), Callback=on_bytes
                )
        except Exception as exc:
            raise self.error(exc, key) from exc

    def _get_small(self, key: str, tmp: Path, on_bytes: Callable[[int], None] | None) -> None:
        import botocore.exceptions as bx

        # botocore retries a failed request but not a body cut off mid-stream; the transfer
        # manager does, so this path must too (a retried GET starts the file over).
        for attempt in range(STREAM_ATTEMPTS):
            written = 0
            try:
                body = self.client.get_object(Bucket=self.remote.bucket, Key=key)["Body"]
                with open(tmp, "wb") as out:
                    for chunk in body.iter_chunks(1 << 20):
                        out.write(chunk)
                        written += len(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
                return
            except (bx.ResponseStreamingError, bx.IncompleteReadError, bx.ReadTimeoutError, bx.ConnectionClosedError):
                if on_bytes and written:
                    on_bytes(-written)
                if attempt == STREAM_ATTEMPTS - 1:
                    raise

    def delete(self, rels: list[str]) -> None:
        for start in range(0, len(rels), 1000):
            batch = [{"Key": self.remote.key(r)} for r in rels[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.remote.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise self.error(exc, batch[0]["Key"]) from exc
