"""BackgroundUploader: uploads checkpoints while training goes on (used by ``train --push-to``)."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from dlcli.errors import DlcliError
from dlcli.remote.hashing import hash_file
from dlcli.remote.report import SyncReport
from dlcli.remote.settings import SyncOptions
from dlcli.remote.url import LocalRemote, parse_remote

_STOP = object()


class BackgroundUploader:
    """One worker thread draining a queue of (path, key); ``submit`` never blocks the epoch loop."""

    def __init__(self, dest: str, options: SyncOptions) -> None:
        self.remote = parse_remote(dest)
        self.options = options
        self.report = SyncReport(direction="push", destination=str(self.remote))
        self._queue: queue.Queue = queue.Queue()
        self._store = None
        self._thread = threading.Thread(target=self._drain, name="dlcli-uploader", daemon=True)
        self._thread.start()

    def submit(self, path: Path, key: str) -> None:
        """Queue ``path`` for upload as ``key`` under the destination (returns at once)."""
        self._queue.put((Path(path), key))

    def close(self) -> SyncReport:
        """Wait for every queued upload and return what happened."""
        self._queue.put(_STOP)
        self._thread.join()
        return self.report

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            path, key = item
            try:
                self._upload(path, key)
                self.report.uploaded.append(key)
                self.report.bytes += path.stat().st_size
            except DlcliError as exc:
                self.report.failed.append({"key": key, "error": exc.message})
            except OSError as exc:
                self.report.failed.append({"key": key, "error": str(exc.strerror or exc)})

    def _upload(self, path: Path, key: str) -> None:
        if isinstance(self.remote, LocalRemote):
            from dlcli.remote.local import atomic_copy

            atomic_copy(path, self.remote.path, key)
            return
        if self._store is None:
            from dlcli.remote.s3 import S3Store

            self._store = S3Store(self.remote, self.options)
        self._store.upload(path, key, hash_file(path)[0], None)
