"""What a checkpoint of the training loop holds, and how a trainer continues from it.

Everything resume needs except the model weights (saved by ``dlcli.model_io``): the position
(epoch, batch, global step), the generator's state now and at the start of the epoch (to
redraw that epoch's batch order), the training source's identity, the running epoch sums,
the optimizer, schedule and early-stopping state, and the history. Stored as a plain state
dict, so the file format never needs to know what the keys mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcli.errors import ConfigError, ModelFileError, setting

from . import history
from .early_stopping import EarlyStopping

STATE_FORMAT = 1  # bump on a change an older dlcli would misread; new optional keys do not


class TrainerState:
    """The checkpointable state of :class:`~dlcli.train.loop.Trainer` (a base class of it)."""

    # Set by the Trainer.
    rng: np.random.Generator
    batch_size: int
    optimizer: Any
    schedule: Any
    early_stopping: EarlyStopping | None
    history: list[dict[str, Any]]
    _epoch: int
    _batch: int
    _step: int
    _n_samples: int | None
    _source: dict[str, Any] | None
    _rng_epoch: dict[str, Any] | None
    _loss_sum: float
    _samples: int
    _train_seconds: float
    _last_lr: float
    _finished: bool
    group: Any

    @property
    def world_size(self) -> int:
        """Ranks training together (1 for one process): a checkpoint resumes with the same number."""
        return 1 if self.group is None else int(self.group.size)

    def state_dict(self, packed: bool = True) -> dict[str, Any]:
        """Everything resume needs except the model weights (saved by model_io).

        Consistent between yielded records, after a ``KeyboardInterrupt`` from :meth:`fit`
        and after a ``NonFiniteLossError`` (then it describes the last good point).
        ``packed=False`` keeps the history as its rows (a shallow copy, which
        :meth:`load_state_dict` reads alike): the in-memory snapshot taken every epoch, where
        packing all the epochs so far made a run's bookkeeping grow with the square of its epochs.
        """
        stopping = self.early_stopping
        return {
            "format": STATE_FORMAT,
            "epoch": self._epoch,
            "batch": self._batch,
            "step": self._step,
            "n_samples": self._n_samples,
            "source": self._source,
            "batch_size": self.batch_size,
            "rng": self.rng.bit_generator.state,
            "rng_epoch_start": self._rng_epoch,
            "epoch_loss_sum": self._loss_sum,
            "epoch_samples": self._samples,
            "epoch_train_seconds": self._train_seconds,
            "last_lr": self._last_lr,
            "finished": self._finished,
            "world": self.world_size,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "early_stopping": None if stopping is None else stopping.state_dict(),
            "history": history.pack(self.history) if packed else list(self.history),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` output (set the model weights separately).

        A state that is not a complete one (a damaged or hand-edited checkpoint) is a
        :class:`ModelFileError`, whatever part of it is wrong.
        """
        if not isinstance(d, dict):
            raise ModelFileError(f"The checkpoint's training state is a {type(d).__name__}, not a table.", hint=_HINT)
        missing = [key for key in self.state_dict() if key not in d and key not in _OPTIONAL]
        if missing:
            raise ModelFileError(f"The checkpoint's training state lacks {', '.join(missing)}.", hint=_HINT)
        try:
            self._load(d)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ModelFileError(
                f"The checkpoint's training state is damaged: {type(exc).__name__}: {exc}.", hint=_HINT
            ) from None

    def _load(self, d: dict[str, Any]) -> None:
        if int(d.get("format", -1)) != STATE_FORMAT:
            raise ConfigError(f"Unsupported trainer state format {d.get('format')!r}; expected {STATE_FORMAT}.")
        saved_world = int(d.get("world", 1))
        if saved_world != self.world_size:
            launch = f"mpiexec -n {saved_world} " if saved_world > 1 else ""
            raise ConfigError(
                f"The checkpoint was written by a run on {_ranks(saved_world)}; "
                f"this run has {_ranks(self.world_size)}.",
                hint=f"Resume it on {_ranks(saved_world)} ({launch}dlcli train --resume …), "
                f"or start a new run with {setting('init_from')} to continue from its weights.",
            )
        if int(d["batch"]) and int(d["batch_size"]) != self.batch_size:
            raise ConfigError(
                f"The checkpoint stopped mid-epoch with batch_size {d['batch_size']}, "
                f"but this run uses {self.batch_size}.",
                hint="Resume with the checkpoint's batch size.",
            )
        try:
            self.rng.bit_generator.state = d["rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"The saved generator state does not fit this run's generator "
                f"({type(self.rng.bit_generator).__name__}): {exc}."
            ) from None
        self._epoch, self._batch, self._step = int(d["epoch"]), int(d["batch"]), int(d["step"])
        self._n_samples = None if d["n_samples"] is None else int(d["n_samples"])
        self._source = d.get("source")  # absent from checkpoints written before batch sources
        self._rng_epoch = d["rng_epoch_start"]
        self._loss_sum, self._samples = float(d["epoch_loss_sum"]), int(d["epoch_samples"])
        self._train_seconds, self._last_lr = float(d["epoch_train_seconds"]), float(d["last_lr"])
        self._finished = bool(d["finished"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.schedule.load_state_dict(d["schedule"])
        if self.early_stopping is not None and d.get("early_stopping") is not None:
            self.early_stopping.load_state_dict(d["early_stopping"])
        self.history = history.unpack(d["history"])


# Keys older checkpoints lack (read with a default).
_OPTIONAL = frozenset({"source", "world", "early_stopping"})
_HINT = "The file is damaged or was not written by dlcli; resume from another checkpoint of the run."


def _ranks(n: int) -> str:
    return "one process" if n == 1 else f"{n} MPI ranks"
