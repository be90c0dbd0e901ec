"""A training run: data → model → the loop → a run directory, usable without the CLI.

``prepare_training(cfg)`` reads and splits the data, builds the model, optimizer, schedule and
trainer, and creates the run directory. ``TrainingRun.records()`` iterates the loop through the
run's callbacks (history file, best model, checkpoints, background upload); ``finish()`` saves
the final model and returns a :class:`TrainResult`. The caller renders progress and decides
what Ctrl-C means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dlcli import __version__
from dlcli.config import Config, auto_refit, portable
from dlcli.data.prepare import TrainingData, input_moments
from dlcli.errors import ConfigError, NonFiniteLossError, RemoteError, setting
from dlcli.parallel import Solo, World, agreed, on_root, shared
from dlcli.train import EpochRecord, run_callbacks

from .builders import build_model, build_optimizer, build_schedule, build_trainer, folded_target_scaling, output_loss
from .callbacks import BestModel, HistoryFile, LastGoodCheckpoint, PeriodicCheckpoint, RunCallback, UploadCheckpoints
from .checkpoints import RUN_RELATIVE, load_checkpoint, resumed_config, warm_start, weights_by_layer
from .distributed import AgreedEpoch
from .provenance import model_origin
from .remotes import check_push_to, push_command, sync_options
from .results import TrainResult
from .rundir import RunDirectory
from .trainingdata import read_training_data

EVAL_CHUNK_ROWS = 65536


def prepare_training(
    cfg: Config,
    *,
    resume: Path | None = None,
    changes: Mapping[str, Any] | None = None,
    init_from: Path | None = None,
    force: bool = False,
    world: World | None = None,
) -> TrainingRun:
    """Everything a run needs, ready to iterate. ``resume`` continues a checkpoint exactly;
    ``changes`` are the dotted settings given with it (see :func:`resumed_config`).

    ``world``: this process is one rank of a data-parallel job (see docs/distributed.md):
    every rank calls this alike; rank 0 alone writes the run directory.
    """
    world = world or Solo()
    checkpoint = None
    if resume is not None:
        checkpoint = agreed(world, lambda: load_checkpoint(resume))
        run_path = Path(resume).resolve().parent.parent
        cfg = agreed(world, lambda: resumed_config(checkpoint, changes or {}, run_path, resume))
    # Before the data is read: an unwritable remote must not cost a whole training first.
    on_root(world, lambda: check_push_to(cfg))
    seeds = np.random.SeedSequence(cfg.train.seed).spawn(3)  # split, initialisation, training
    data = read_training_data(cfg, seeds[0], world)
    if checkpoint is not None and checkpoint.metadata.get("data_sha256") not in (None, data.sha256):
        raise ConfigError(
            f"The training data '{cfg.data.path}' changed since the checkpoint {resume} was written.",
            hint=f"Resume needs the same data; start a new run with {setting('init_from')} to warm-start instead.",
        )
    moments = shared(world, lambda: input_moments(data.train))  # fitted once, the same on every rank
    model = build_model(cfg, data.schema, moments, np.random.default_rng(seeds[1]))
    if init_from is not None:
        agreed(world, lambda: warm_start(model, init_from, data.schema))
    trainer = build_trainer(
        cfg,
        model,
        build_optimizer(cfg),
        build_schedule(cfg, data.n_train),
        np.random.default_rng(seeds[2]),
        data.schema,
        has_validation=data.val is not None,
        group=world,
        train_rows=data.n_train,
    )
    if checkpoint is not None:
        model.set_weights(weights_by_layer(checkpoint.model))
        agreed(world, lambda: trainer.load_state_dict(checkpoint.training_state))
        run_dir = RunDirectory(run_path)
        on_root(world, lambda: _resumed_run_dir(run_dir, cfg, trainer.history))
    else:
        run_dir = RunDirectory(Path(world.bcast(str(on_root(world, lambda: _new_run_dir(cfg, force))))))
    return TrainingRun(cfg, data, model, trainer, run_dir, seeds, world)


def _new_run_dir(cfg: Config, force: bool) -> Path:
    run_dir = RunDirectory.create(cfg, force)
    run_dir.write_config(cfg)
    return run_dir.path


def _resumed_run_dir(run_dir: RunDirectory, cfg: Config, history: list[dict[str, Any]]) -> None:
    """The run directory as of the checkpoint: its history cut to the checkpoint's epochs (a
    killed run may have appended later ones, or this is an earlier checkpoint), its config
    with any new epoch count."""
    RunDirectory.existing(run_dir.path)
    run_dir.write_history(history)
    run_dir.write_config(cfg)


class TrainingRun:
    """An iterable training run writing into its run directory."""

    def __init__(
        self,
        cfg: Config,
        data: TrainingData,
        model: Any,
        trainer: Any,
        run_dir: RunDirectory,
        seeds: list[np.random.SeedSequence],
        world: World | None = None,
    ) -> None:
        self.cfg, self.data, self.model, self.trainer, self.dir = cfg, data, model, trainer, run_dir
        self._seeds = seeds
        self.world = world or Solo()
        self.is_root = self.world.rank == 0  # the rank that writes files and uploads
        self._selected_checkpoint: Path | None = None  # set while refitting
        self.start_epoch = len(self.history)
        self.total_epochs = cfg.train.epochs
        self._started = time.perf_counter()
        self._uploader = _uploader(cfg, self.push_destination) if self.is_root else None
        self.callbacks = self._compose_callbacks()

    def _compose_callbacks(self) -> list[RunCallback]:
        """What each epoch writes: history, the best model, periodic checkpoints, uploads.

        Only rank 0 writes; with several ranks, each epoch's callbacks end in an agreement, so
        a failure there (a full disk) ends every rank instead of leaving them waiting.
        """
        if not self.is_root:
            return [AgreedEpoch(self.world, [])]
        callbacks: list[RunCallback] = [HistoryFile(self.dir), BestModel(self, self.dir.model_path)]
        if self.cfg.train.checkpoint_every:
            train = self.cfg.train
            callbacks.append(PeriodicCheckpoint(self, self.dir, train.checkpoint_every, train.keep_checkpoints))
        callbacks.append(LastGoodCheckpoint(self, self.dir))
        if self._uploader is not None:
            callbacks.append(UploadCheckpoints(self._uploader))
        return [AgreedEpoch(self.world, callbacks)] if self.world.size > 1 else callbacks

    @property
    def history(self) -> list[dict[str, Any]]:
        """One row per epoch of the selection run (resumed epochs included)."""
        rows: list[dict[str, Any]] = self.trainer.history
        return rows

    @property
    def run_dir(self) -> Path:
        return self.dir.path

    @property
    def push_destination(self) -> str | None:
        """Where ``remote.push_to`` sends this run: ``<push_to>/<run directory name>``."""
        push_to = self.cfg.remote.push_to
        return f"{push_to.rstrip('/')}/{self.dir.path.name}" if push_to else None

    def describe(self) -> str:
        widths = " → ".join(str(w) for w in [self.model.input_dim, *self.cfg.model.hidden, self.model.output_dim])
        where = "" if self.data.in_memory else ", streamed from the cache (out of core)"
        return (
            f"{self.data.schema.task} on {Path(self.data.source).name} "
            f"({self.data.n_train} train / {self.data.n_val} val rows, {widths}{where})"
        )

    def data_notes(self) -> list[tuple[str, str | None]]:
        """What the training rows hold that the encoding would hide (missing cells filled,
        ID-like columns): ``(line, hint)`` pairs for the caller to show before training."""
        quality = self.data.quality
        if quality is None:
            return []
        ids = quality.id_like()
        advice = f"Leave {'it' if len(ids) == 1 else 'them'} out with {setting('data.ignore', ','.join(ids))}."
        return quality.notes(f"in the {self.data.n_train} training rows", advice)

    def records(self) -> Iterator[EpochRecord]:
        """Train, yielding one record per epoch after the run's callbacks have handled it."""
        yield from run_callbacks(self.trainer.fit(self.data.train, self.data.val), self.callbacks)

    def refit_plan(self) -> str | None:
        """What :meth:`finish` will retrain, for the caller to announce; ``None`` if nothing."""
        best = self.best_epoch()
        if not (self.refits() and best):
            return None
        rows = self.data.n_train + self.data.n_val
        return f"Refitting on all {rows} rows (training + validation) for the best epoch count, {best}."

    def best_epoch(self) -> int:
        best = getattr(getattr(self.trainer, "early_stopping", None), "best_epoch", None)
        return int(best) if best else len(self.history)

    def stop_reason(self) -> str:
        """Why the epochs ended, in one line: early stopping (what it watched, for how long)
        or the epoch budget, and the best epoch."""
        stopping, history = self.trainer.early_stopping, self.history
        last = history[-1]["epoch"] if history else 0
        if stopping is not None and 0 < last < self.cfg.train.epochs and stopping.wait >= stopping.patience:
            return (
                f"Stopped at epoch {last}: {stopping.monitor} has not improved for {stopping.patience} epochs "
                f"(train.patience); best epoch {self.best_epoch()}."
            )
        return f"Ran all {last} epochs (train.epochs); best epoch {self.best_epoch()}."

    def units_note(self) -> str | None:
        """For regression on a scaled target: the losses are in standardised units, the metrics not."""
        schema = self.data.schema
        if schema.task != "regression" or not getattr(schema, "target_scaled", False):
            return None
        return (
            f"loss and val_loss are on the standardised target (half the mse over the variance of "
            f"{schema.target}); rmse and r2 are in {schema.target}'s own units."
        )

    def save_interrupt_checkpoint(self) -> Path:
        """A checkpoint of the state at the last completed batch, for ``--resume``.

        During the refit the selection run is complete: its final checkpoint resumes into a
        fresh refit, so that one is returned. With several ranks, rank 0 writes it (every
        rank stopped at the same batch, with the same state) and the others wait for it.
        """
        if self._selected_checkpoint is not None:
            return self._selected_checkpoint
        path = self.dir.checkpoint_path(None, "interrupted")
        on_root(self.world, lambda: self.save_checkpoint(path))
        return path

    def finish(self, on_refit_epoch: Callable[[EpochRecord], None] | None = None) -> TrainResult:
        """Evaluate the selected model, refit on all rows if configured, save, and report;
        ``on_refit_epoch`` hears each refit epoch (for progress)."""
        from .inference import Predictor, evaluate_chunks

        metrics: dict[str, float] = {}
        if self.data.val is not None:
            # Rows the selected model never trained on: an honest estimate, also for the refit.
            predictor = Predictor(self.model, self.data.schema, {}, "")
            metrics = evaluate_chunks(predictor, self.data.val.chunks(EVAL_CHUNK_ROWS)).metrics
        best = self.best_epoch()
        refit = self._refit(best, on_refit_epoch) if self.refits() and best else None
        on_root(self.world, lambda: self._write_final(metrics, best, refit))
        seconds = sum(h["seconds"] for h in self.history)
        samples = sum(h["seconds"] * h["samples_per_second"] for h in self.history)
        pushed, push_error = on_root(self.world, self._finish_push) or ([], None)
        facts = {"kind": "model", "epochs_run": len(self.history), "best_epoch": best, "refit": refit}
        facts |= {"metrics": metrics, "validation_rows": self.data.n_val, "config": portable(self.cfg, self.dir.path)}
        trained_as, metrics_from = model_origin(facts) or ("", "")
        return TrainResult(
            str(self.dir.model_path),
            str(self.dir.path),
            len(self.history),
            best,
            self.history,
            metrics,
            samples / seconds if seconds else 0.0,
            time.perf_counter() - self._started,
            pushed,
            push_error,
            trained_as,
            metrics_from,
        )

    def _write_final(self, metrics: dict[str, float], best: int, refit: dict[str, Any] | None) -> None:
        extra = {"validation_rows": self.data.n_val} if self.data.val is not None else {}
        self.save_model(self.dir.model_path, metrics=metrics, best_epoch=best, refit=refit, **extra)
        self.dir.write_metrics(metrics)

    def _refit(self, epochs: int, on_epoch: Callable[[EpochRecord], None] | None = None) -> dict[str, Any]:
        """Retrain from the same initialisation on training + validation rows for ``epochs`` epochs."""
        selected = self.dir.checkpoint_path(None, "selected")
        on_root(self.world, lambda: self.save_checkpoint(selected))
        self._selected_checkpoint = selected
        everything = self.data.everything
        moments = shared(self.world, lambda: input_moments(everything))
        model = build_model(self.cfg, self.data.schema, moments, np.random.default_rng(self._seeds[1]))
        trainer = build_trainer(
            self.cfg,
            model,
            build_optimizer(self.cfg),
            build_schedule(self.cfg, self.data.n_train),
            np.random.default_rng(self._seeds[2]),
            self.data.schema,
            epochs=epochs,
            group=self.world,
        )
        try:
            for record in trainer.fit(everything):
                if on_epoch is not None:
                    on_epoch(record)
        except NonFiniteLossError as exc:
            # The selected model is sound; keep it rather than fail the whole run.
            self._selected_checkpoint = None
            return {"epochs": epochs, "rows": everything.n_rows, "used": False, "reason": exc.message}
        self.model = model
        self._selected_checkpoint = None
        return {"epochs": epochs, "rows": everything.n_rows, "used": True}

    def refits(self) -> bool:
        """Whether the run refits on all rows (``train.refit``; auto: small data only)."""
        rows = self.data.n_train + self.data.n_val
        return self.data.val is not None and auto_refit(self.cfg.train.refit, rows)

    # ---- files ----------------------------------------------------------------------------

    def _metadata(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "dlcli_version": __version__,
            "created": datetime.now(UTC).isoformat(),
            "config": portable(self.cfg, self.dir.path),
            "paths": RUN_RELATIVE,
            "data": self.data.source,
            "data_sha256": self.data.sha256,
            "seed": self.cfg.train.seed,
            "epochs_run": len(self.history),
            # A checkpoint's training state holds the history already (as columns): not twice.
            **({} if kind == "checkpoint" else {"history": self.history}),
            "loss": output_loss(self.cfg, self.data.schema),
            **extra,
        }

    def save_model(self, path: Path, **extra: Any) -> None:
        """The model as users get it: target scaling folded into the output layer."""
        from dlcli.model_io import save_model

        with folded_target_scaling(self.model, self.data.schema) as schema:
            save_model(path, self.model, schema=schema.to_dict(), metadata=self._metadata("model", **extra))

    def save_checkpoint(self, path: Path) -> Path:
        """The model and the trainer state, for ``--resume``; every callback hears of it."""
        from dlcli.model_io import save_model

        save_model(
            path,
            self.model,
            schema=self.data.schema.to_dict(),
            metadata=self._metadata("checkpoint"),
            training_state=self.trainer.state_dict(),
        )
        key = path.relative_to(self.dir.path).as_posix()
        for callback in self.callbacks:
            callback.on_checkpoint(path, key)
        return path

    def _finish_push(self) -> tuple[list[str], RemoteError | None]:
        """Push the run; a failure is returned, not raised: the run is saved and its result
        must still reach the user, with the command that completes the upload."""
        if self._uploader is None:
            return [], None
        self._uploader.close()
        from dlcli.remote import push

        destination = str(self.push_destination)
        retry = f"The run is saved in {self.dir.path}; finish the upload with: " + push_command(
            self.cfg, self.dir.path, destination
        )
        try:
            report = push(self.dir.path, destination, sync_options(self.cfg))
        except RemoteError as exc:
            return [], RemoteError(f"Training finished but the upload to {destination} failed: {exc.message}", retry)
        if report.failed:
            return [], RemoteError(
                f"Training finished but {len(report.failed)} file(s) failed to upload to {destination}.", retry
            )
        return [destination], None


def _uploader(cfg: Config, destination: str | None) -> Any:
    if destination is None:
        return None
    from dlcli.remote import BackgroundUploader

    return BackgroundUploader(destination, sync_options(cfg))
