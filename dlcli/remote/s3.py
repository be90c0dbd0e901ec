"""The S3 store: a boto3 client (imported lazily), listing with the manifest, and transfers.

Small files go through one ``put_object`` / ``get_object`` each (it returns the ETag the
manifest records, and costs less CPU than the transfer manager per file); files at or above
the multipart threshold go through boto3's ``upload_file`` / ``download_file`` with a
``TransferConfig``, which aborts a failed multipart upload. Multipart is never re-implemented;
the uploads a killed push left are aborted by the next push (:mod:`dlcli.remote.s3uploads`).
The client (timeouts, retries and their notices) is built in :mod:`dlcli.remote.s3client`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from dlcli.errors import DlcliError
from dlcli.files import atomic_path
from dlcli.remote import manifest, s3errors
from dlcli.remote.compare import plain_md5
from dlcli.remote.hashing import check_download
from dlcli.remote.paths import is_internal, is_manifest, new_manifest_name, safe_destination
from dlcli.remote.s3client import make_client
from dlcli.remote.s3errors import is_missing, transfer_errors, translate
from dlcli.remote.s3uploads import abort_stale
from dlcli.remote.settings import SyncOptions, resolve_endpoint, timeouts
from dlcli.remote.store import Changes, FileState, Progress
from dlcli.remote.url import S3Remote

MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
STREAM_ATTEMPTS = 3  # whole-body re-reads of a small GET cut off mid-stream
META_KEY = "sha256"  # x-amz-meta-sha256


class S3Store:
    """One bucket/prefix with a configured client; errors become RemoteErrors naming bucket, key, endpoint."""

    def __init__(self, remote: S3Remote, options: SyncOptions) -> None:
        self.remote = remote
        self.endpoint = resolve_endpoint(options)  # used to connect; messages show it redacted
        self.timeouts = timeouts(options)
        self.client: Any = make_client(options, remote.bucket, self.endpoint)
        self.jobs = options.jobs
        self.notify = options.on_notice
        self.manifest_misses = 0  # SHA-256s found by HEAD, not in a manifest (see ``states``)
        self._listed: dict[str, FileState] | None = None  # what ``states`` found, for ``finish``
        self._manifests: list[str] = []  # the manifests ``states`` read (relative keys), for ``finish``
        self._folder = False  # the listing found folder markers ("dir/", empty): the prefix exists

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=self.jobs,
            use_threads=True,
        )

    def error(self, exc: BaseException, key: str | None = None) -> DlcliError:
        return translate(exc, self.remote.bucket, key, self.endpoint, self.timeouts)

    def where(self, key: str = "") -> str:
        return s3errors.where(self.remote.bucket, self.remote.key(key) if key else self.remote.prefix, self.endpoint)

    def absent(self) -> str | None:
        return None if self._listed or self._folder else f"no objects under {self.where()}"

    # --- listing ------------------------------------------------------------------------

    def states(self) -> dict[str, FileState]:
        """Every object under the prefix: SHA-256 from the manifests when its size+ETag still
        match, else from the object's metadata (one HEAD), else only size and ETag."""
        listing = self._list()
        self._manifests = [rel for rel in listing if is_manifest(rel)]  # at the top: this prefix's own
        entries = manifest.merge(self._read_manifests(), listing)
        states: dict[str, FileState] = {}
        for rel, (size, etag) in listing.items():
            if is_internal(rel):
                continue
            sha = manifest.trusted_sha256(entries.get(rel), size, etag)
            if sha is None:
                sha = self._head_sha256(rel)
                self.manifest_misses += sha is not None
            states[rel] = FileState(size, sha, plain_md5(etag), etag)
        self._listed = states
        return dict(states)

    def _list(self) -> dict[str, tuple[int, str]]:
        """Relative key -> (size, ETag) under the prefix (one paginated listing)."""
        prefix = self.remote.key("") if self.remote.prefix else ""
        found: dict[str, tuple[int, str]] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.remote.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rel, size = obj["Key"][len(prefix) :], int(obj["Size"])
                    if not rel or (rel.endswith("/") and size == 0):
                        # A folder marker (what consoles create for "New folder"): no file to sync.
                        self._folder = True
                        continue
                    found[rel] = (size, str(obj.get("ETag", "")).strip('"'))
        except transfer_errors() as exc:
            raise self.error(exc, prefix or None) from exc
        return found

    def _read_manifests(self) -> list[bytes]:
        """The listed manifests' bodies; one deleted since the listing (a concurrent push
        merged it) is skipped, which only costs HEADs. Any other failure (credentials,
        permissions, the network) raises: it must not pass for "no manifest"."""
        bodies = []
        for key in map(self.remote.key, self._manifests):
            body = io.BytesIO()
            try:
                self._stream(key, body, None)
            except transfer_errors() as exc:
                if is_missing(exc):
                    continue
                raise self.error(exc, key) from exc
            bodies.append(body.getvalue())
        return bodies

    def stat(self, key: str) -> FileState | None:
        """The object at ``key`` (one HEAD), or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.remote.bucket, Key=self.remote.key(key))
        except transfer_errors() as exc:
            if is_missing(exc):
                return None
            raise self.error(exc, self.remote.key(key)) from exc
        etag = str(head.get("ETag", "")).strip('"')
        return FileState(int(head["ContentLength"]), head.get("Metadata", {}).get(META_KEY), plain_md5(etag), etag)

    def _head_sha256(self, key: str) -> str | None:
        """The SHA-256 dlcli stored with the object; None for a foreign one or one deleted since the listing."""
        state = self.stat(key)
        return state.sha256 if state is not None else None

    # --- transfers ----------------------------------------------------------------------

    def put(self, path: Path, key: str, sha256: str, on_bytes: Progress) -> FileState:
        """Upload one file with its SHA-256 in the metadata; the state holds the new ETag."""
        full = self.remote.key(key)
        size = path.stat().st_size
        try:
            if size < MULTIPART_THRESHOLD:
                with open(path, "rb") as body:
                    etag = self.client.put_object(
                        Bucket=self.remote.bucket, Key=full, Body=body, Metadata={META_KEY: sha256}
                    )["ETag"]
                if on_bytes:
                    on_bytes(size)
            else:
                self.client.upload_file(
                    str(path),
                    self.remote.bucket,
                    full,
                    ExtraArgs={"Metadata": {META_KEY: sha256}},
                    Config=self.transfer_config(),
                    Callback=on_bytes,
                )
                etag = self.client.head_object(Bucket=self.remote.bucket, Key=full)["ETag"]
        except transfer_errors() as exc:
            raise self.error(exc, full) from exc
        return FileState(size, sha256, None, str(etag).strip('"'))

    def get(self, key: str, dest_root: Path, state: FileState, on_bytes: Progress) -> Path:
        """Download into a temporary file beside the target, verify, rename into place."""
        target = safe_destination(dest_root, key)
        with atomic_path(target) as temp:
            self._download(key, temp, on_bytes, state.size)
            check_download(temp, key, state)
        return target

    def _download(self, key: str, temp: Path, on_bytes: Progress, size: int) -> None:
        """One GET when the listing says the object is small, else the transfer manager (which
        HEADs first, then fetches ranges in parallel)."""
        full = self.remote.key(key)
        try:
            if size < MULTIPART_THRESHOLD:
                with open(temp, "wb") as out:
                    self._stream(full, out, on_bytes)
            else:
                self.client.download_file(
                    self.remote.bucket, full, str(temp), Config=self.transfer_config(), Callback=on_bytes
                )
        except transfer_errors() as exc:
            raise self.error(exc, full) from exc

    def _stream(self, full: str, out: IO[bytes], on_bytes: Progress) -> None:
        """GET ``full`` into ``out``, starting over when the body is cut off mid-stream."""
        import botocore.exceptions as bx

        # botocore retries a failed request but not a body cut off mid-stream; the transfer
        # manager does, so this path must too (a retried GET starts the file over).
        # A GET that got no answer at all was already retried by botocore: only a body cut off
        # after the answer started is retried here (else a silent server costs 3 x 5 attempts).
        cut_off = (bx.ResponseStreamingError, bx.IncompleteReadError, bx.ReadTimeoutError, bx.ConnectionClosedError)
        for attempt in range(1, STREAM_ATTEMPTS + 1):
            out.seek(0)
            out.truncate()
            written = 0
            body = self.client.get_object(Bucket=self.remote.bucket, Key=full)["Body"]
            try:
                for chunk in body.iter_chunks(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
                return
            except cut_off as exc:
                if on_bytes and written:
                    on_bytes(-written)
                if attempt == STREAM_ATTEMPTS:
                    raise
                if self.notify:
                    where = s3errors.where(self.remote.bucket, full, self.endpoint)
                    why = s3errors.error_kind(exc, self.timeouts)
                    self.notify(
                        f"Restarting the download of {where}: {why}; attempt {attempt + 1} of {STREAM_ATTEMPTS}."
                    )

    # --- deletes and the manifest -------------------------------------------------------

    def delete(self, keys: Sequence[str]) -> dict[str, str]:
        """Delete in batches of 1000 (the API's limit); per-key refusals are returned."""
        failed: dict[str, str] = {}
        for start in range(0, len(keys), 1000):
            batch = list(keys[start : start + 1000])
            objects = [{"Key": self.remote.key(k)} for k in batch]
            try:
                response = self.client.delete_objects(
                    Bucket=self.remote.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except transfer_errors() as exc:
                message = self.error(exc, objects[0]["Key"]).message
                failed.update(dict.fromkeys(batch, message))
                continue
            by_full = {self.remote.key(k): k for k in batch}
            for refused in response.get("Errors", []):
                key = by_full.get(refused.get("Key", ""), refused.get("Key", ""))
                failed[key] = f"Cannot delete {self.where(key)}: {refused.get('Code')} {refused.get('Message', '')}."
        return failed

    def recover(self) -> str | None:
        """Abort the multipart uploads under the prefix that killed pushes left (idle for an hour)."""
        prefix = self.remote.key("") if self.remote.prefix else ""
        aborted = abort_stale(self.client, self.remote.bucket, prefix)
        if not aborted:
            return None
        names = ", ".join(sorted(k[len(prefix) :] for k in aborted)[:5]) + (", …" if len(aborted) > 5 else "")
        return (
            f"Aborted {len(aborted)} multipart upload(s) under {self.where()} left unfinished by an "
            f"interrupted push: {names}."
        )

    def finish(self, changes: Changes) -> None:
        """Write a manifest of this push after any change, also when some SHA-256 had to come
        from a HEAD (objects pushed by an older run or by the background uploader) or several
        manifests were read, so the next no-op push costs one listing and one manifest read
        instead of a HEAD per file. The manifest gets a new name of its own, then the ones this
        push read are deleted: a concurrent push's is never overwritten (see
        :mod:`dlcli.remote.manifest`). Without a listing (:meth:`states` not called) nothing
        is known to merge with: nothing is written."""
        if self._listed is None:
            return
        if not (changes.stored or changes.deleted or self.manifest_misses or len(self._manifests) > 1):
            return
        entries = {**self._listed, **changes.stored}
        for key in changes.deleted:
            entries.pop(key, None)
        name = new_manifest_name()
        key = self.remote.key(name)
        try:
            self.client.put_object(
                Bucket=self.remote.bucket, Key=key, Body=manifest.render(entries), ContentType="application/json"
            )
        except transfer_errors() as exc:
            raise self.error(exc, key) from exc
        # Best effort: a manifest left behind (no permission to delete) is merged by the next push.
        self.delete(self._manifests)
        self._manifests = [name]
