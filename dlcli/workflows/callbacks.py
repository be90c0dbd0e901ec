"""The callbacks a training run composes: the run directory's files and the background upload.

Each is one small thing done at an epoch record (or at a divergence, or when a checkpoint
file is written). A tune trial composes none of these (it keeps its history in memory); an
MPI rank other than 0 composes none that write.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from dlcli.errors import NonFiniteLossError
from dlcli.train import Callback, EpochRecord

from .rundir import RunDirectory


class Saver(Protocol):
    """What the file-writing callbacks need from the run."""

    def save_model(self, path: Path) -> None: ...

    def save_checkpoint(self, path: Path) -> Path: ...


class RunCallback(Callback):
    """A callback that also hears about every checkpoint the run writes."""

    def on_checkpoint(self, path: Path, key: str) -> None:
        """``path`` was written; ``key`` is its path relative to the run directory."""


class HistoryFile(RunCallback):
    """Append each epoch's row to ``history.jsonl`` as it comes (a crash keeps the epochs so far)."""

    def __init__(self, run_dir: RunDirectory) -> None:
        self.run_dir = run_dir

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.run_dir.append_history(record.to_dict())


class BestModel(RunCallback):
    """Write ``model.h5`` whenever the monitored value improves."""

    def __init__(self, run: Saver, path: Path) -> None:
        self.run, self.path = run, path

    def on_epoch_end(self, record: EpochRecord) -> None:
        if record.improved:
            self.run.save_model(self.path)


class PeriodicCheckpoint(RunCallback):
    """Write ``checkpoints/epoch-NNNN.h5`` every ``every`` epochs, keeping the last ``keep``
    of them (0: all); ``selected.h5`` and ``last-good.h5`` are never removed."""

    def __init__(self, run: Saver, run_dir: RunDirectory, every: int, keep: int = 0) -> None:
        self.run, self.run_dir, self.every, self.keep = run, run_dir, every, keep

    def on_epoch_end(self, record: EpochRecord) -> None:
        if record.epoch % self.every == 0:
            self.run.save_checkpoint(self.run_dir.checkpoint_path(record.epoch))
            if self.keep:
                self._prune()

    def _prune(self) -> None:
        folder = self.run_dir.checkpoint_path(0).parent
        periodic = sorted(p for p in folder.glob("epoch-*.h5") if PERIODIC.fullmatch(p.name))
        for old in periodic[: -self.keep]:
            old.unlink(missing_ok=True)  # a queued upload of it is skipped (BackgroundUploader)


PERIODIC = re.compile(r"epoch-\d{4,}\.h5")  # RunDirectory.checkpoint_path's names; zero-padded, so sorted by epoch


class LastGoodCheckpoint(RunCallback):
    """On divergence, save the rolled-back state as ``checkpoints/last-good.h5`` and say where."""

    def __init__(self, run: Saver, run_dir: RunDirectory) -> None:
        self.run, self.run_dir = run, run_dir

    def on_failure(self, error: NonFiniteLossError) -> None:
        path = self.run.save_checkpoint(self.run_dir.checkpoint_path(None, "last-good"))
        error.hint = f"{error.raw_hint or ''} The last good weights are in {path}.".strip()


class UploadCheckpoints(RunCallback):
    """Queue every checkpoint for the background uploader as soon as it is written."""

    def __init__(self, uploader: Any) -> None:
        self.uploader = uploader

    def on_checkpoint(self, path: Path, key: str) -> None:
        self.uploader.submit(path, key)
