"""A training run: data → model → the loop → a run directory, usable without the CLI.

``prepare_training(cfg)`` reads and splits the data, builds the model, optimizer, schedule and
trainer, and creates the run directory. ``TrainingRun.records()`` iterates the loop through the
run's callbacks (history file, best model, checkpoints, background upload); ``finish()`` saves
the final model and returns a :class:`TrainResult`. The caller renders progress and decides
what Ctrl-C means.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dlcli import __version__
from dlcli.config import Config, load_config, parse_size, to_toml
from dlcli.data.prepare import TrainingData, input_moments, prepare_training_data
from dlcli.errors import ConfigError, NonFiniteLossError, RemoteError, setting
from dlcli.train import EpochRecord, run_callbacks

from .builders import build_model, build_optimizer, build_schedule, build_trainer, folded_target_scaling, output_loss
from .callbacks import BestModel, HistoryFile, LastGoodCheckpoint, PeriodicCheckpoint, RunCallback, UploadCheckpoints
from .checkpoints import flatten_config, load_checkpoint, warm_start, weights_by_layer
from .remotes import sync_options
from .rundir import RunDirectory

EVAL_CHUNK_ROWS = 65536


@dataclass
class TrainResult:
    model: str
    run_dir: str
    epochs_run: int
    best_epoch: int
    history: list[dict[str, Any]]
    metrics: dict[str, float]
    samples_per_second: float
    seconds: float
    pushed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "run_dir": self.run_dir,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "metrics": self.metrics,
            "samples_per_second": self.samples_per_second,
            "seconds": self.seconds,
            "pushed": self.pushed,
        }


def prepare_training(
    cfg: Config, *, resume: Path | None = None, init_from: Path | None = None, force: bool = False
) -> TrainingRun:
    """Everything a run needs, ready to iterate. ``resume`` continues a checkpoint exactly."""
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        cfg = load_config(None, flatten_config(checkpoint.metadata["config"]), environ={})
    seeds = np.random.SeedSequence(cfg.train.seed).spawn(3)  # split, initialisation, training
    data = read_training_data(cfg, np.random.default_rng(seeds[0]))
    if checkpoint is not None and checkpoint.metadata.get("data_sha256") not in (None, data.sha256):
        raise ConfigError(
            f"The training data '{cfg.data.path}' changed since the checkpoint {resume} was written.",
            hint=f"Resume needs the same data; start a new run with {setting('init_from')} to warm-start instead.",
        )
    model = build_model(cfg, data.schema, input_moments(data.train), np.random.default_rng(seeds[1]))
    if init_from is not None:
        warm_start(model, init_from, data.schema)
    trainer = build_trainer(
        cfg,
        model,
        build_optimizer(cfg),
        build_schedule(cfg),
        np.random.default_rng(seeds[2]),
        data.schema,
        has_validation=data.val is not None,
    )
    if checkpoint is not None:
        model.set_weights(weights_by_layer(checkpoint.model))
        trainer.load_state_dict(checkpoint.training_state)
        run_dir = RunDirectory.existing(Path(resume).resolve().parent.parent)  # type: ignore[arg-type]
    else:
        run_dir = RunDirectory.create(cfg, force)
        run_dir.write_config(to_toml(cfg))
    return TrainingRun(cfg, data, model, trainer, run_dir, seeds)


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
    ) -> None:
        self.cfg, self.data, self.model, self.trainer, self.dir = cfg, data, model, trainer, run_dir
        self._seeds = seeds
        self._selected_checkpoint: Path | None = None  # set while refitting
        self.start_epoch = len(self.history)
        self.total_epochs = cfg.train.epochs
        self._started = time.perf_counter()
        self._uploader = _uploader(cfg, self.push_destination)
        self.callbacks = self._compose_callbacks()

    def _compose_callbacks(self) -> list[RunCallback]:
        """What each epoch writes: history, the best model, periodic checkpoints, uploads."""
        callbacks: list[RunCallback] = [HistoryFile(self.dir), BestModel(self, self.dir.model_path)]
        if self.cfg.train.checkpoint_every:
            callbacks.append(PeriodicCheckpoint(self, self.dir, self.cfg.train.checkpoint_every))
        callbacks.append(LastGoodCheckpoint(self, self.dir))
        if self._uploader is not None:
            callbacks.append(UploadCheckpoints(self._uploader))
        return callbacks

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

    def records(self) -> Iterator[EpochRecord]:
        """Train, yielding one record per epoch after the run's callbacks have handled it."""
        yield from run_callbacks(self.trainer.fit(self.data.train, self.data.val), self.callbacks)

    def refit_plan(self) -> str | None:
        """What :meth:`finish` will retrain, for the caller to announce; ``None`` if nothing."""
        best = self.best_epoch()
        if not (self.cfg.train.refit and self.data.val is not None and best):
            return None
        rows = self.data.n_train + self.data.n_val
        return f"Refitting on all {rows} rows (training + validation) for the best epoch count, {best}."

    def best_epoch(self) -> int:
        best = getattr(getattr(self.trainer, "early_stopping", None), "best_epoch", None)
        return int(best) if best else len(self.history)

    def save_interrupt_checkpoint(self) -> Path:
        """A checkpoint of the state at the last completed batch, for ``--resume``.

        During the refit the selection run is complete: its final checkpoint resumes into a
        fresh refit, so that one is returned.
        """
        if self._selected_checkpoint is not None:
            return self._selected_checkpoint
        return self.save_checkpoint(self.dir.checkpoint_path(None, "interrupted"))

    def finish(self) -> TrainResult:
        """Evaluate the selected model, refit on all rows if configured, save, and report."""
        from .inference import Predictor, evaluate_chunks

        metrics: dict[str, float] = {}
        if self.data.val is not None:
            # Rows the selected model never trained on: an honest estimate, also for the refit.
            predictor = Predictor(self.model, self.data.schema, {}, "")
            metrics = evaluate_chunks(predictor, self.data.val.chunks(EVAL_CHUNK_ROWS)).metrics
        best = self.best_epoch()
        refit = self._refit(best) if self.cfg.train.refit and self.data.val is not None and best else None
        self.save_model(self.dir.model_path, metrics=metrics, best_epoch=best, refit=refit)
        self.dir.write_metrics(metrics)
        seconds = sum(h["seconds"] for h in self.history)
        samples = sum(h["seconds"] * h["samples_per_second"] for h in self.history)
        pushed = self._finish_push()
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
        )

    def _refit(self, epochs: int) -> dict[str, Any]:
        """Retrain from the same initialisation on training + validation rows for ``epochs`` epochs."""
        self._selected_checkpoint = self.save_checkpoint(self.dir.checkpoint_path(None, "selected"))
        everything = self.data.everything
        model = build_model(
            self.cfg, self.data.schema, input_moments(everything), np.random.default_rng(self._seeds[1])
        )
        trainer = build_trainer(
            self.cfg,
            model,
            build_optimizer(self.cfg),
            build_schedule(self.cfg),
            np.random.default_rng(self._seeds[2]),
            self.data.schema,
            epochs=epochs,
        )
        try:
            for _ in trainer.fit(everything):
                pass
        except NonFiniteLossError as exc:
            # The selected model is sound; keep it rather than fail the whole run.
            self._selected_checkpoint = None
            return {"epochs": epochs, "rows": everything.n_rows, "used": False, "reason": exc.message}
        self.model = model
        self._selected_checkpoint = None
        return {"epochs": epochs, "rows": everything.n_rows, "used": True}

    # ---- files ----------------------------------------------------------------------------

    def _metadata(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "dlcli_version": __version__,
            "created": datetime.now(UTC).isoformat(),
            "config": self.cfg.to_dict(),
            "data": self.data.source,
            "data_sha256": self.data.sha256,
            "seed": self.cfg.train.seed,
            "epochs_run": len(self.history),
            "history": self.history,
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

    def _finish_push(self) -> list[str]:
        if self._uploader is None:
            return []
        self._uploader.close()
        from dlcli.remote import push

        destination = str(self.push_destination)
        report = push(self.dir.path, destination, sync_options(self.cfg))
        if report.failed:
            raise RemoteError(
                f"Training finished but {len(report.failed)} file(s) failed to upload to {destination}.",
                hint=f"The run is saved locally in {self.dir.path}; retry with: dlcli push "
                f"{self.dir.path} {destination}",
            )
        return [destination]


def read_training_data(cfg: Config, rng: np.random.Generator) -> TrainingData:
    """Read ``data.path`` (an ``s3://`` URL through the cache), split it and fit the schema."""
    if not cfg.data.path:
        raise ConfigError(
            "No training data given.",
            hint=f"Pass {setting('data.path', 'FILE')} {setting('data.target', 'COLUMN')}, or run 'dlcli init'.",
        )
    path: str | Path = cfg.data.path
    options = sync_options(cfg)
    if str(path).startswith("s3://"):
        from dlcli.remote import fetch

        path = fetch(str(path), options)
    from dlcli.remote.settings import cache_dir

    return prepare_training_data(
        path,
        cfg.data.target,
        task=cfg.data.task,
        val_split=cfg.data.val_split,
        rng=rng,
        cache_dir=cache_dir(options),
        memory_limit=memory_budget(cfg.data.memory_limit),
        features=cfg.data.features or None,
        ignore=cfg.data.ignore or None,
        delimiter=cfg.data.delimiter,
        dtype=cfg.model.dtype,
    )


def memory_budget(limit: str) -> int:
    """Bytes for the encoded training inputs: ``data.memory_limit``, or half of the memory
    this process may use (the cgroup limit in a container, else the machine's RAM)."""
    size = parse_size(limit)
    if size is not None:
        return size
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            physical = min(physical, int(text))
    except OSError:
        pass
    return physical // 2


def _uploader(cfg: Config, destination: str | None) -> Any:
    if destination is None:
        return None
    from dlcli.remote import BackgroundUploader

    return BackgroundUploader(destination, sync_options(cfg))
