"""BackgroundUploader: uploads checkpoints while training goes on (used by the training run).

It writes objects only, no manifest: the push at the end of the run lists the prefix and
records what it finds (see ``S3Store.finish``).
"""

from __future__ import annotations

import queue
import threading
from functools import partial
from pathlib import Path

from dlcli.remote.hashing import hash_file
from dlcli.remote.report import Outcome, SyncReport, attempt
from dlcli.remote.settings import SyncOptions
from dlcli.remote.store import FileState, Store, open_store
from dlcli.remote.url import parse_remote

_STOP = None


class BackgroundUploader:
    """One worker thread draining a queue of (path, key); ``submit`` never blocks the epoch loop.

    Parameters
    ----------
    dest : str
        ``s3://bucket/prefix`` or a directory; keys are relative to it.
    options : SyncOptions
        Endpoint, credentials and parallelism of the store.
    """

    def __init__(self, dest: str, options: SyncOptions) -> None:
        self.remote = parse_remote(dest)
        self.options = options
        self._queue: queue.Queue[tuple[Path, str] | None] = queue.Queue()
        self._store: Store | None = None
        # Written by the worker thread only, read after join(): no lock needed.
        self._outcomes: list[Outcome] = []
        self._thread = threading.Thread(target=self._drain, name="dlcli-uploader", daemon=True)
        self._thread.start()

    def submit(self, path: Path, key: str) -> None:
        """Queue ``path`` for upload as ``key`` under the destination (returns at once)."""
        self._queue.put((Path(path), key))

    def close(self) -> SyncReport:
        """Wait for every queued upload and return what happened."""
        self._queue.put(_STOP)
        self._thread.join()
        return SyncReport.from_outcomes("push", str(self.remote), self._outcomes)

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            path, key = item
            outcome = attempt(key, partial(self._put, path, key))
            if outcome.error is not None and not path.exists():
                continue  # removed while queued (train.keep_checkpoints): a later checkpoint supersedes it
            self._outcomes.append(outcome)

    def _put(self, path: Path, key: str) -> FileState:
        if self._store is None:  # opened in this thread: creating an S3 client takes a while
            self._store = open_store(self.remote, self.options)
        return self._store.put(path, key, hash_file(path)[0], None)
