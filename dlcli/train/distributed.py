"""Data-parallel training steps: what a :class:`~dlcli.train.loop.Trainer` does when it is one
of several ranks.

Every rank holds the same model and draws the same batch order (the trainer's generator is
seeded alike everywhere); each takes its part of every global batch (the sources' ``shard``).
A step is then: forward/backward on the part, with the output gradient scaled by the part's
share of the global batch; one in-place Allreduce of the model's gradient buffer, whose
spare tail carries this rank's loss sum, row count, a pending Ctrl-C and a failure flag; and
the same update on every rank. So the summed gradients are exactly the single-process
gradients of the global batch (up to float rounding), and every decision that ends a step —
a non-finite loss, an interrupt, an error on any rank — is taken by all ranks on the same
reduced values, at the same step: no rank is left waiting in a collective.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from dlcli.errors import DlcliError, RankError, describe_failure

LOSS, ROWS, INTERRUPT, FAILED = range(4)  # the status slots after the gradients


class Group(Protocol):
    """What training needs of the process group (``dlcli.parallel.World`` provides it)."""

    rank: int
    size: int

    def allreduce(self, buffer: np.ndarray) -> None: ...

    def allgather(self, value: Any) -> list[Any]: ...


class Guarded:
    """A batch iterator whose failures do not leave the other ranks waiting.

    A batch that cannot be read (a data error, an I/O error) becomes an empty part and the
    exception is kept, so this rank still joins the step's Allreduce and raises its flag.
    """

    def __init__(self, batches: Iterator[tuple[np.ndarray, np.ndarray]], n_features: int, dtype: Any) -> None:
        self._batches = batches
        self._empty = np.empty((0, n_features), dtype=dtype)
        self.failure: BaseException | None = None

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        while True:
            try:
                yield next(self._batches)
            except StopIteration:
                return
            except (DlcliError, OSError) as exc:
                self.failure = exc
                yield self._empty, None


def global_rows(n_rows: int, batch_size: int, batch: int) -> int:
    """Rows of global batch ``batch`` (the last one holds the remainder)."""
    return min(batch_size, n_rows - batch * batch_size)


def set_status(buffer: np.ndarray, loss: float, rows: int, interrupt: bool, failed: bool) -> np.ndarray:
    status = buffer[-4:]
    status[LOSS], status[ROWS], status[INTERRUPT], status[FAILED] = loss * rows, rows, interrupt, failed
    return status


def raise_agreed(group: Group, failure: BaseException | None) -> None:
    """Every rank calls this once a step's status says some rank failed: all raise the first failure."""
    reports = group.allgather(None if failure is None else describe_failure(failure))
    for rank, report in enumerate(reports):
        if report is not None:
            message, hint, code = report
            raise RankError(rank, message, hint, code) from failure
    raise RankError(0, "A rank failed without saying why.", None, 1)  # pragma: no cover - flags and reports agree


def agree_interrupt(group: Group, pending: bool) -> bool:
    """Whether any rank has a Ctrl-C pending (all ranks call this at the same point)."""
    return any(group.allgather(bool(pending)))


def synchronise_layers(model: Any, group: Group | None) -> None:
    """Point layers that compute batch statistics (BatchNormalization) at the group."""
    for layer in model.layers:
        if hasattr(layer, "sync"):
            layer.sync = group if group is not None and group.size > 1 else None


def mask_generator(seed: int, rank: int, step: int) -> np.random.Generator:
    """Dropout masks for ``step`` on ``rank``: a stream of its own per rank, fixed by the
    position alone, so a resumed run draws the same masks without saving any generator."""
    return np.random.default_rng([seed, rank, step])


def combine_sums(group: Group | None, values: tuple[float, ...]) -> tuple[float, ...]:
    """Element-wise sums over ranks, added in rank order (the same result on every rank)."""
    if group is None or group.size == 1:
        return values
    rows = group.allgather(tuple(values))
    return tuple(float(sum(column)) for column in zip(*rows, strict=True))


class ParallelSteps:
    """The data-parallel step of :class:`~dlcli.train.loop.Trainer` (a base class of it)."""

    # Set by the Trainer.
    model: Any
    optimizer: Any
    schedule: Any
    group: Group | None
    mask_seed: int
    batch_size: int
    clip_norm: float | None
    _interrupt: Any
    _random_layers: list[Any]
    _checked: bool
    _n_global: int
    _stop_all: bool
    _epoch: int
    _step: int
    _last_lr: float

    def _fail(self, what: str, batch: int, n_batches: int) -> None:
        raise NotImplementedError

    def _update(self, params: list[np.ndarray], grads: list[np.ndarray], batch: int, n_batches: int) -> None:
        raise NotImplementedError

    def _parallel_step(
        self,
        Xb: np.ndarray,
        yb: np.ndarray | None,
        failure: BaseException | None,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        batch: int,
        n_batches: int,
    ) -> tuple[float, int]:
        """One data-parallel step: this rank's part, one Allreduce, the same update everywhere."""
        assert self.group is not None
        if self._random_layers:
            masks = mask_generator(self.mask_seed, self.group.rank, self._step)
            for layer in self._random_layers:
                layer.rng = masks
        share = len(Xb) / global_rows(self._n_global, self.batch_size, batch)
        loss = 0.0
        if failure is None:
            try:
                loss = float(self.model.compute_loss_and_gradients(Xb, yb, share, checked=self._checked))
            except DlcliError as exc:  # bad targets in this part: join the step, then fail with all
                failure = exc
        if failure is not None:
            empty = np.empty((0, self.model.input_dim), self.model.dtype)
            self.model.compute_loss_and_gradients(empty, None)
        buffer = self.model.gradient_buffer()
        status = set_status(buffer, loss, len(Xb), self._interrupt.pending, failure is not None)
        self.group.allreduce(buffer)
        if status[FAILED]:
            raise_agreed(self.group, failure)
        rows = int(status[ROWS])
        loss = float(status[LOSS]) / rows
        if not math.isfinite(loss):
            self._fail(f"The loss became {loss}", batch, n_batches)
        self._update(params, grads, batch, n_batches)
        self._stop_all = bool(status[INTERRUPT])
        return loss, rows

    def _raise_if_interrupted(self, agree: bool = False) -> None:
        """Raise a pending Ctrl-C; with several ranks, only as all ranks decided together."""
        if self.group is None:
            self._interrupt.raise_if_pending()
            return
        stop = self._stop_all or (agree and agree_interrupt(self.group, self._interrupt.pending))
        if stop:
            self._stop_all = self._interrupt.pending = False
            raise KeyboardInterrupt
