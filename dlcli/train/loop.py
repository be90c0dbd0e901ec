"""The training loop: a generator of :class:`EpochRecord`, resumable bit for bit.

One optimizer step is: training forward/backward on a mini-batch → non-finite check →
``grad_hook(grads)`` (the data-parallel seam: an MPI variant would allreduce-average the
gradients here) → clipping by global norm → ``optimizer.step`` with the schedule's rate.

Resume: :meth:`Trainer.state_dict` captures the position (epoch, batch, global step), the
generator's current state and its state at the start of the epoch (to redraw that epoch's
batch order), the optimizer, schedule and early-stopping state, and the history. With the
model weights (saved separately by ``dlcli.model_io``) that reproduces the uninterrupted run
exactly, from an epoch boundary or from mid-epoch after a ``KeyboardInterrupt`` (Ctrl-C is
deferred to the end of the batch in progress, see :mod:`.interrupts`).

Failure: at each epoch start (or resume point) the trainer snapshots weights and state; a
non-finite loss, gradient norm or weight rolls both back to it before raising, so the model
holds the last good weights and :meth:`Trainer.state_dict` is a valid checkpoint again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlcli.data.batches import BatchSource, Epoch
from dlcli.errors import ConfigError, DataError, NonFiniteLossError, setting
from dlcli.nn.optimizers import clip_by_global_norm
from dlcli.nn.tasks import get_task

from . import distributed, evaluation, threads
from .early_stopping import EarlyStopping
from .interrupts import DeferredInterrupt
from .record import EpochRecord
from .state import TrainerState

__all__ = ["EarlyStopping", "EpochRecord", "Trainer"]

NON_FINITE_HINT = (
    f"Lower the learning rate ({setting('train.lr')}), enable gradient clipping by global norm "
    f"({setting('train.clip_norm', '1.0')}), and check the data for NaN or infinite values."
)

GradHook = Callable[[list[np.ndarray]], None]


class Trainer(TrainerState, distributed.ParallelSteps):
    """Mini-batch training of a built ``dlcli.nn.Sequential``.

    Parameters
    ----------
    model : Sequential
        Built; its weights are whatever the caller set (fresh, warm-started or resumed).
    optimizer, schedule : dlcli.nn optimizer and schedule
    epochs : int
        Total epochs, counting those of a resumed session.
    batch_size : int
    rng : np.random.Generator
        The only randomness of training: batch order and Dropout masks (the trainer points
        the model's random layers at it so its state alone makes resume exact).
    task : {"binary", "multiclass", "regression"}
        Selects the metrics.
    early_stopping : EarlyStopping, optional
    clip_norm : float, optional
        Clip the gradients to this global norm before each update.
    grad_hook : callable, optional
        Called with the gradient list after backward, before clipping and the update; may
        modify the arrays in place (e.g. average them across processes).
    train_metrics : bool
        Compute metrics on the training set at each epoch end (one inference pass).
    unscale : callable, optional
        Regression only: maps targets and outputs ``(n, k)`` back to the user's units before
        the metrics (e.g. undoing target standardisation); losses stay in training units.
    group : process group, optional
        Data-parallel training (:mod:`.distributed`): this trainer is one of ``group.size``
        ranks, each built alike; :meth:`fit` takes the whole sources and trains on this
        rank's shard of every batch, evaluates its shard of the rows, and sums across ranks.
    mask_seed : int
        Data-parallel only: Dropout masks come from ``(mask_seed, rank, step)``.
    kernels : str, optional
        The kernel set of the steps (:mod:`dlcli.nn.kernels`, resolved); default: the active one.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        schedule: Any,
        *,
        epochs: int,
        batch_size: int,
        rng: np.random.Generator,
        task: str,
        early_stopping: EarlyStopping | None = None,
        clip_norm: float | None = None,
        grad_hook: GradHook | None = None,
        train_metrics: bool = True,
        unscale: Callable[[np.ndarray], np.ndarray] | None = None,
        group: distributed.Group | None = None,
        mask_seed: int = 0,
        kernels: str | None = None,
    ) -> None:
        if int(epochs) <= 0:
            raise ConfigError(f"epochs must be > 0, got {epochs}.")
        if int(batch_size) <= 0:
            raise ConfigError(f"batch_size must be > 0, got {batch_size}.")
        get_task(task)  # an unknown task names the valid ones
        if clip_norm is not None and float(clip_norm) <= 0:
            raise ConfigError(f"clip_norm must be > 0, got {clip_norm}.")
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.epochs, self.batch_size, self.rng, self.task = int(epochs), int(batch_size), rng, task
        self.early_stopping = early_stopping
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.grad_hook = grad_hook
        self.train_metrics = bool(train_metrics)
        self.unscale = unscale
        self.group = group if group is not None and group.size > 1 else None
        self.mask_seed = int(mask_seed)
        self.kernels = kernels
        self._threads: threads.ThreadPlan  # set by fit
        self._checked = False  # the training targets were validated as a whole
        self._stop_all = False  # data-parallel: a Ctrl-C pending on some rank, agreed at the last step
        self._n_global = 0  # data-parallel: training rows over all ranks
        self._random_layers: list[Any] = []
        self.history: list[dict[str, Any]] = []
        self._interrupt = DeferredInterrupt()
        self._snapshot: tuple[list[np.ndarray], dict[str, Any]] | None = None
        self._reset_position()

    def _reset_position(self) -> None:
        self._epoch = 0  # completed epochs
        self._batch = 0  # completed batches of the current epoch
        self._step = 0  # optimizer steps taken in total
        self._rng_epoch: dict[str, Any] | None = None  # generator state before this epoch's shuffle
        self._loss_sum, self._samples, self._train_seconds = 0.0, 0, 0.0
        self._last_lr = float("nan")
        self._n_samples: int | None = None
        self._source: dict[str, Any] | None = None  # the training source's state_dict()
        self._finished = False

    # --- the loop -------------------------------------------------------------------------
    def fit(self, train: BatchSource, val: BatchSource | None = None) -> Iterator[EpochRecord]:
        """Train from the current position, yielding one record per epoch.

        Parameters
        ----------
        train : BatchSource
            The training rows: ``(n_samples, n_features)`` inputs, targets as the loss takes them.
        val : BatchSource, optional
            Validation rows, evaluated in inference mode at each epoch end.

        Raises
        ------
        NonFiniteLossError
            The loss (or the gradient norm, or the weights) became NaN/inf; the weights and the
            trainer state are rolled back to the last good point before raising.
        KeyboardInterrupt
            On Ctrl-C, at the end of the batch in progress, with a consistent state: catch it,
            call :meth:`state_dict` and save a checkpoint.
        """
        self._check_source(train, "training")
        if val is not None:
            self._check_source(val, "validation")
        self._check_resume_data(train)
        self._check_monitor(val is not None)
        if self.group is not None:
            self._n_global = train.n_rows
            train = train.shard(self.group.rank, self.group.size)
            val = None if val is None else val.shard(self.group.rank, self.group.size)
        distributed.synchronise_layers(self.model, self.group)
        self._adopt_rng()
        y = train.resident_targets()  # targets in memory are checked once here, not at every step
        if y is not None:
            self.model.loss.prepare_targets(y, self.model.output_dim, self.model.dtype)
        self._checked = y is not None
        rows = -(-self.batch_size // (self.group.size if self.group else 1))  # this rank's part of a batch
        self._threads = threads.ThreadPlan.for_model(self.model, rows, evaluation.EVAL_ROWS)
        params, grads = self.model.parameters(), self.model.gradients()
        # Deferral spans the yields too: a Ctrl-C while the caller handles a record (writing
        # history, a checkpoint) is delivered here, at an epoch boundary, instead of as a
        # KeyboardInterrupt that could land in a finalizer, where Python swallows it.
        with self._interrupt, threads.kernels_in_use(self.kernels):
            while not self._finished and self._epoch < self.epochs:
                # Divergence is detected and reported as a typed error: NumPy's overflow warnings
                # would only be noise on stderr.
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    record = self._run_epoch(train, val, params, grads)
                yield record
                self._raise_if_interrupted(agree=True)
            self._raise_if_interrupted(agree=True)

    def _run_epoch(
        self, train: BatchSource, val: BatchSource | None, params: list[np.ndarray], grads: list[np.ndarray]
    ) -> EpochRecord:
        started = time.perf_counter()
        earlier = self._train_seconds  # batch time an interrupted session already spent
        self._take_snapshot()  # before the shuffle, so a rollback redraws the same order
        epoch = self._epoch_order(train)
        n_batches = len(epoch)
        batches: Any = epoch.batches(self._batch)
        if self.group is not None:
            batches = distributed.Guarded(batches, self.model.input_dim, self.model.dtype)
        with self._threads.steps():
            self._run_batches(batches, n_batches, params, grads)
        try:
            with self._threads.evaluating():
                record = self._end_epoch(train, val, params)
        except KeyboardInterrupt:
            self._rollback()
            raise
        record.seconds = earlier + time.perf_counter() - started
        self._commit_epoch(record)
        return record

    def _run_batches(self, batches: Any, n_batches: int, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        t0 = time.perf_counter()
        for b, (Xb, yb) in enumerate(batches, start=self._batch):
            try:
                if self.group is None:
                    loss, rows = self._train_step(Xb, yb, params, grads, b, n_batches), len(Xb)
                else:
                    loss, rows = self._parallel_step(Xb, yb, batches.failure, params, grads, b, n_batches)
            except KeyboardInterrupt:  # raised inside a step (no deferral): back to a clean point
                self._rollback()
                raise
            self._loss_sum += loss * rows
            self._samples += rows
            self._batch = b + 1
            self._train_seconds += time.perf_counter() - t0
            self._raise_if_interrupted()
            t0 = time.perf_counter()

    def _epoch_order(self, train: BatchSource) -> Epoch:
        """This epoch's batch order; mid-epoch, redrawn from the epoch's saved start state."""
        if self._batch == 0:
            self._rng_epoch = dict(self.rng.bit_generator.state)
            return train.epoch(self.rng, self.batch_size)
        if self._rng_epoch is None:
            raise ConfigError("The trainer state stops mid-epoch but lacks the epoch's generator state.")
        now = self.rng.bit_generator.state
        self.rng.bit_generator.state = self._rng_epoch
        epoch = train.epoch(self.rng, self.batch_size)
        self.rng.bit_generator.state = now
        return epoch

    def _train_step(
        self,
        Xb: np.ndarray,
        yb: np.ndarray,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        batch: int,
        n_batches: int,
    ) -> float:
        loss = float(self.model.compute_loss_and_gradients(Xb, yb, checked=self._checked))
        if not math.isfinite(loss):
            self._fail(f"The loss became {loss}", batch, n_batches)
        if self.grad_hook is not None:
            self.grad_hook(grads)
        self._update(params, grads, batch, n_batches)
        return loss

    def _update(self, params: list[np.ndarray], grads: list[np.ndarray], batch: int, n_batches: int) -> None:
        """Clip (if configured) and take the optimizer step with the schedule's rate."""
        if self.clip_norm is not None:
            norm = clip_by_global_norm(grads, self.clip_norm)
            if not math.isfinite(norm):
                self._fail(f"The gradient norm became {norm}", batch, n_batches)
        lr = float(self.schedule.lr(self._epoch, self._step))
        self.optimizer.step(params, grads, lr)
        self._step += 1
        self._last_lr = lr

    def _end_epoch(self, train: BatchSource, val: BatchSource | None, params: list[np.ndarray]) -> EpochRecord:
        """Evaluate and judge the epoch; mutates only early-stopping and schedule state."""
        if not all(np.isfinite(p).all() for p in params):
            # A finite loss can still come with an overflowing last update.
            self._fail("The weights became NaN or infinite", self._batch - 1, self._batch)
        record = EpochRecord(epoch=self._epoch + 1, loss=self._loss_sum / max(1, self._samples), lr=self._last_lr)
        record.samples_per_second = self._samples / self._train_seconds if self._train_seconds else 0.0
        if self.train_metrics:
            record.metrics = self._metrics(train)
        if val is not None:
            record.val_loss = self._loss(val)
            record.val_metrics = self._metrics(val)
        record.improved, record.stop = self._judge(record)
        self._feed_schedule(record)
        return record

    def _commit_epoch(self, record: EpochRecord) -> None:
        """Advance the position to the epoch boundary; restore the best weights at the end."""
        self._epoch += 1
        self._batch, self._rng_epoch = 0, None
        self._loss_sum, self._samples, self._train_seconds = 0.0, 0, 0.0
        self._finished = record.stop
        if (record.stop or self._epoch >= self.epochs) and self.early_stopping is not None:
            self.early_stopping.restore(self.model)
        self.history.append(record.to_dict())

    def _judge(self, record: EpochRecord) -> tuple[bool, bool]:
        if self.early_stopping is None:
            return True, False  # without a monitor the latest weights are the ones to keep
        value = record.values()[self.early_stopping.monitor]
        return self.early_stopping.update(float("nan") if value is None else value, record.epoch, self.model)

    def _feed_schedule(self, record: EpochRecord) -> None:
        """Give reduce-on-plateau style schedules the monitored value."""
        values = record.values()
        if self.early_stopping is not None:
            name, mode = self.early_stopping.monitor, self.early_stopping.mode
        else:
            name, mode = ("val_loss" if "val_loss" in values else "loss"), "min"
        value = values.get(name)
        if value is None:
            return
        # The schedule has its own mode (default "min"); if the monitor improves the other
        # way, feed the negated value, which turns "larger is better" into "smaller is better".
        if getattr(self.schedule, "mode", mode) != mode:
            value = -value
        self.schedule.on_epoch_end(float(value))

    def _loss(self, source: BatchSource) -> float:
        return evaluation.mean_loss(self.model, source, self.group)

    def _metrics(self, source: BatchSource) -> dict[str, float]:
        return evaluation.epoch_metrics(self.model, source, self.task, self.unscale, self.group)

    # --- failures and rollback ------------------------------------------------------------
    def _take_snapshot(self) -> None:
        """Remember the current point (epoch start or resume point) as the last good one."""
        self._snapshot = (self.model.copy_weights(), self.state_dict(packed=False))

    def _rollback(self) -> None:
        """Weights and trainer state back to the snapshot: a consistent, resumable point."""
        if self._snapshot is None:
            return
        weights, state = self._snapshot
        self.model.restore_weights(weights)
        self.load_state_dict(state)

    def _fail(self, what: str, batch: int, n_batches: int) -> None:
        epoch, step = self._epoch + 1, self._step + 1
        self._rollback()
        error = NonFiniteLossError(
            f"{what} at epoch {epoch}, batch {batch + 1} of {n_batches} (step {step}). "
            f"Training stopped; the last good weights were kept: {self._describe_position()}.",
            NON_FINITE_HINT,
            epoch=epoch,
            step=step,
        )
        error.agreed = self.group is not None  # decided on reduced values, by every rank alike
        raise error

    def _describe_position(self) -> str:
        if self._batch:
            return f"those at epoch {self._epoch + 1}, batch {self._batch}, where this session resumed"
        if self._epoch:
            return f"those from the end of epoch {self._epoch}"
        return "the weights training started from"

    # --- data checks ----------------------------------------------------------------------
    def _check_source(self, source: BatchSource, what: str) -> None:
        if source.n_features != self.model.input_dim:
            raise DataError(
                f"The {what} inputs must have shape (n, {self.model.input_dim}), got (n, {source.n_features})."
            )

    def _check_resume_data(self, train: BatchSource) -> None:
        """Mid-epoch, the saved batch order only makes sense for the same data."""
        source = train.state_dict()
        rows = int(source.get("rows", train.n_rows))
        saved = self._source or {}
        if self._batch and (self._n_samples not in (None, rows) or any(saved[k] != source.get(k) for k in saved)):
            raise DataError(
                f"The checkpoint stopped mid-epoch on {self._n_samples} training rows ({saved or 'no details'}), "
                f"but {rows} were given ({source}).",
                hint="Resume with the same data and validation split.",
            )
        self._n_samples, self._source = rows, source

    def _check_monitor(self, has_validation: bool) -> None:
        if self.early_stopping is None:
            return
        names = evaluation.monitorable(self.task, self.train_metrics, has_validation)
        if self.early_stopping.monitor not in names:
            raise ConfigError(
                f"Cannot monitor '{self.early_stopping.monitor}'. Expected one of: {', '.join(names)}.",
                hint=None if has_validation else "Validation values need validation data.",
            )

    def _adopt_rng(self) -> None:
        """Point random layers (Dropout) at the trainer's generator, so that one generator
        state, saved in the trainer state, covers all training randomness.

        Data-parallel, the trainer's generator draws only the batch order (the same on every
        rank); each step gives the layers a generator of the rank's own (see _parallel_step).
        """
        self._random_layers = [layer for layer in self.model.layers if hasattr(layer, "rng")]
        if self.group is None:
            for layer in self._random_layers:
                layer.rng = self.rng
