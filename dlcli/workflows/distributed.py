"""What a training run does differently as one rank of a data-parallel job."""

from __future__ import annotations

from dlcli.parallel import World, agreed
from dlcli.train import EpochRecord

from .callbacks import RunCallback


class AgreedEpoch(RunCallback):
    """Run rank 0's callbacks for an epoch (history, checkpoints, uploads), then agree.

    The other ranks hold no callbacks but wait here, so an error in rank 0's writing ends
    every rank with that error rather than leaving them in the next step's Allreduce.
    """

    def __init__(self, world: World, callbacks: list[RunCallback]) -> None:
        self.world, self.callbacks = world, callbacks

    def on_epoch_end(self, record: EpochRecord) -> None:
        def handle() -> None:
            for callback in self.callbacks:
                callback.on_epoch_end(record)

        agreed(self.world, handle)

    def on_failure(self, error: object) -> None:
        for callback in self.callbacks:
            callback.on_failure(error)  # type: ignore[arg-type]

    def on_train_end(self) -> None:
        for callback in self.callbacks:
            callback.on_train_end()

    def on_checkpoint(self, path: object, key: str) -> None:
        for callback in self.callbacks:
            callback.on_checkpoint(path, key)  # type: ignore[arg-type]
