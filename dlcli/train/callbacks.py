"""Callbacks: what a caller does with each epoch record, as small composable objects.

The trainer only yields :class:`~dlcli.train.record.EpochRecord`; it never writes. A caller
composes the callbacks it needs — a run directory's history file, best-model and checkpoint
writers, a background upload; a tuning trial's pruner report; nothing that writes on an MPI
rank other than 0 — and wraps the record stream with :func:`run_callbacks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from dlcli.errors import NonFiniteLossError

from .record import EpochRecord


class Callback:
    """Hooks around the record stream; every hook is a no-op unless overridden."""

    def on_epoch_end(self, record: EpochRecord) -> None:
        """After an epoch, before the caller sees its record."""

    def on_failure(self, error: NonFiniteLossError) -> None:
        """The loss diverged; the trainer has rolled back to the last good point (may amend the hint)."""

    def on_train_end(self) -> None:
        """The record stream is exhausted (stopped early or after the last epoch)."""


class OnEpoch(Callback):
    """Call ``fn(record)`` after each epoch (e.g. report the monitored value to a pruner)."""

    def __init__(self, fn: Callable[[EpochRecord], None]) -> None:
        self.fn = fn

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.fn(record)


def run_callbacks(records: Iterable[EpochRecord], callbacks: Sequence[Callback]) -> Iterator[EpochRecord]:
    """Yield each record after every callback has handled it, in order.

    On :class:`NonFiniteLossError` each callback's ``on_failure`` runs before the error
    propagates; a ``KeyboardInterrupt`` propagates untouched (the caller decides what Ctrl-C
    saves).
    """
    try:
        for record in records:
            for callback in callbacks:
                callback.on_epoch_end(record)
            yield record
    except NonFiniteLossError as error:
        for callback in callbacks:
            callback.on_failure(error)
        raise
    for callback in callbacks:
        callback.on_train_end()
