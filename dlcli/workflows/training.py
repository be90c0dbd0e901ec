"""A training run: data → model → the loop → a run directory, usable without the CLI.

``prepare_training(cfg)`` reads and splits the data, builds the model, optimizer, schedule and
trainer, and creates the run directory. ``TrainingRun.records()`` iterates the loop, writing
history and checkpoints as it goes; ``finish()`` saves the final model and returns a
:class:`TrainResult`. The caller renders progress and decides what Ctrl-C means.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dlcli import __version__
from dlcli.config import Config, load_config, to_toml
from dlcli.data.prepare import TrainingData, prepare_training_data
from dlcli.errors import ConfigError, ModelFileError, NonFiniteLossError
from dlcli.train.builders import build_model, build_optimizer, build_schedule, build_trainer, output_loss
from dlcli.train.rundir import RunDirectory


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
        checkpoint = _load_checkpoint(resume)
        cfg = load_config(None, _flatten(checkpoint.metadata["config"]), environ={})
    seeds = np.random.SeedSequence(cfg.train.seed).spawn(3)  # split, initialisation, training
    data = _read_data(cfg, np.random.default_rng(seeds[0]))
    if checkpoint is not None and checkpoint.metadata.get("data_sha256") not in (None, data.sha256):
        raise ConfigError(
            f"The training data '{cfg.data.path}' changed since the checkpoint {resume} was written.",
            hint="Resume needs the same data; start a new run with --init-from to warm-start instead.",
        )
    model = build_model(cfg, data.schema, data.X_train, np.random.default_rng(seeds[1]))
    if init_from is not None:
        _warm_start(model, init_from, data.schema)
    trainer = build_trainer(
        cfg,
        model,
        build_optimizer(cfg),
        build_schedule(cfg),
        np.random.default_rng(seeds[2]),
        data.schema,
        has_validation=data.X_val is not None,
    )
    if checkpoint is not None:
        model.set_weights(_weights_by_layer(checkpoint.model))
        trainer.load_state_dict(checkpoint.training_state)
        run_dir = RunDirectory.existing(Path(resume).resolve().parent.parent)
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
        self.history: list[dict[str, Any]] = list(getattr(trainer, "history", []) or [])
        self.start_epoch = len(self.history)
        self.total_epochs = cfg.train.epochs
        self._started = time.perf_counter()
        self._uploader = _uploader(cfg, self.push_destination)

    @property
    def run_dir(self) -> Path:
        return self.dir.path

    @property
    def push_destination(self) -> str | None:
        """Where ``--push-to`` sends this run: ``<push_to>/<run directory name>``."""
        push_to = self.cfg.remote.push_to
        return f"{push_to.rstrip('/')}/{self.dir.path.name}" if push_to else None

    def describe(self) -> str:
        widths = " → ".join(str(w) for w in [self.model.input_dim, *self.cfg.model.hidden, self.model.output_dim])
        n_val = 0 if self.data.X_val is None else len(self.data.X_val)
        return (
            f"{self.data.schema.task} on {Path(self.data.source).name} "
            f"({len(self.data.X_train)} train / {n_val} val rows, {widths})"
        )

    def records(self) -> Iterator[Any]:
        """Train, yielding one record per epoch; history and checkpoints are written as they come."""
        try:
            for record in self.trainer.fit(self.data.X_train, self.data.y_train, self.data.X_val, self.data.y_val):
                self.history.append(_record_dict(record))
                self.dir.append_history(self.history[-1])
                if record.improved:
                    self._save_model(self.dir.model_path)
                every = self.cfg.train.checkpoint_every
                if every and record.epoch % every == 0:
                    self._save_checkpoint(self.dir.checkpoint_path(record.epoch))
                yield record
        except NonFiniteLossError as exc:
            path = self._save_checkpoint(self.dir.checkpoint_path(None, "last-good"))
            exc.hint = f"{exc.hint or ''} The last good weights are in {path}.".strip()
            raise

    def refit_plan(self) -> str | None:
        """What :meth:`finish` will retrain, for the caller to announce; ``None`` if nothing."""
        best = _best_epoch(self.history, self.trainer)
        if not (self.cfg.train.refit and self.data.X_val is not None and best):
            return None
        rows = len(self.data.X_train) + len(self.data.X_val)
        return f"Refitting on all {rows} rows (training + validation) for the best epoch count, {best}."

    def save_interrupt_checkpoint(self) -> Path:
        """A checkpoint of the state at the last completed batch, for ``--resume``.

        During the refit the selection run is complete: its final checkpoint resumes into a
        fresh refit, so that one is returned.
        """
        if self._selected_checkpoint is not None:
            return self._selected_checkpoint
        return self._save_checkpoint(self.dir.checkpoint_path(None, "interrupted"))

    def finish(self) -> TrainResult:
        """Evaluate the selected model, refit on all rows if configured, save, and report."""
        from dlcli.inference import Predictor, evaluate_arrays

        metrics: dict[str, float] = {}
        if self.data.X_val is not None:
            # Rows the selected model never trained on: an honest estimate, also for the refit.
            predictor = Predictor(self.model, self.data.schema, {}, "")
            metrics = evaluate_arrays(predictor, self.data.X_val, self.data.y_val).metrics
        best = _best_epoch(self.history, self.trainer)
        refit = self._refit(best) if self.cfg.train.refit and self.data.X_val is not None and best else None
        self._save_model(self.dir.model_path, metrics=metrics, best_epoch=best, refit=refit)
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
        self._selected_checkpoint = self._save_checkpoint(self.dir.checkpoint_path(None, "selected"))
        X = np.concatenate([self.data.X_train, self.data.X_val])
        y = np.concatenate([self.data.y_train, self.data.y_val])
        model = build_model(self.cfg, self.data.schema, X, np.random.default_rng(self._seeds[1]))
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
            for _ in trainer.fit(X, y):
                pass
        except NonFiniteLossError as exc:
            # The selected model is sound; keep it rather than fail the whole run.
            self._selected_checkpoint = None
            return {"epochs": epochs, "rows": len(X), "used": False, "reason": exc.message}
        self.model = model
        self._selected_checkpoint = None
        return {"epochs": epochs, "rows": len(X), "used": True}

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

    def _save_model(self, path: Path, **extra: Any) -> None:
        from dlcli.model_io import save_model
        from dlcli.train.builders import folded_target_scaling

        with folded_target_scaling(self.model, self.data.schema) as schema:
            save_model(path, self.model, schema=schema.to_dict(), metadata=self._metadata("model", **extra))

    def _save_checkpoint(self, path: Path) -> Path:
        from dlcli.model_io import save_model

        save_model(
            path,
            self.model,
            schema=self.data.schema.to_dict(),
            metadata=self._metadata("checkpoint"),
            training_state=self.trainer.state_dict(),
        )
        if self._uploader is not None:
            self._uploader.submit(path, str(path.relative_to(self.dir.path)))
        return path

    def _finish_push(self) -> list[str]:
        if self._uploader is None:
            return []
        self._uploader.close()
        from dlcli.remote import push

        destination = str(self.push_destination)
        report = push(self.dir.path, destination, _remote_options(self.cfg))
        if report.failed:
            from dlcli.errors import RemoteError

            raise RemoteError(
                f"Training finished but {len(report.failed)} file(s) failed to upload to {destination}.",
                hint=f"The run is saved locally in {self.dir.path}; retry with: dlcli push "
                f"{self.dir.path} {destination}",
            )
        return [destination]


def _read_data(cfg: Config, rng: np.random.Generator) -> TrainingData:
    if not cfg.data.path:
        raise ConfigError("No training data given.", hint="Pass --data FILE --target COLUMN, or run 'dlcli init'.")
    path: str | Path = cfg.data.path
    if str(path).startswith("s3://"):
        from dlcli.remote import fetch

        path = fetch(str(path), _remote_options(cfg))
    return prepare_training_data(
        path,
        cfg.data.target,
        task=cfg.data.task,
        val_split=cfg.data.val_split,
        rng=rng,
        features=cfg.data.features or None,
        ignore=cfg.data.ignore or None,
        delimiter=cfg.data.delimiter,
        dtype=cfg.model.dtype,
    )


def _remote_options(cfg: Config) -> Any:
    from dlcli.workflows.remotes import sync_options

    return sync_options(cfg)


def _uploader(cfg: Config, destination: str | None) -> Any:
    if destination is None:
        return None
    from dlcli.remote import BackgroundUploader

    return BackgroundUploader(destination, _remote_options(cfg))


def _load_checkpoint(path: Path) -> Any:
    from dlcli.model_io import load_model

    loaded = load_model(path)
    if not loaded.training_state or (loaded.metadata or {}).get("kind") != "checkpoint":
        raise ModelFileError(
            f"'{path}' is a model, not a checkpoint: it has no training state to resume.",
            hint="Resume from a file in the run's checkpoints/ directory, or use --init-from "
            "to warm-start from a model.",
        )
    return loaded


def _warm_start(model: Any, path: Path, schema: Any) -> None:
    """Initialise from another model's weights (then train afresh: no optimizer or loop state)."""
    from dlcli.model_io import load_weights_into

    load_weights_into(model, path)
    if schema.target_scaled:
        # Saved models predict original units; this run trains on standardised targets.
        last = model.layers[-1]
        last.params["kernel"] /= schema.target_std
        last.params["bias"] -= schema.target_mean
        last.params["bias"] /= schema.target_std


def _weights_by_layer(model: Any) -> dict[str, dict[str, np.ndarray]]:
    return {layer.name: dict(layer.get_weights()) for layer in model.layers}


def _flatten(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}


def _record_dict(record: Any) -> dict[str, Any]:
    return {
        "epoch": record.epoch,
        "loss": record.loss,
        **record.metrics,
        "val_loss": record.val_loss,
        **{f"val_{k}": v for k, v in record.val_metrics.items()},
        "lr": record.lr,
        "seconds": record.seconds,
        "samples_per_second": record.samples_per_second,
    }


def _best_epoch(history: list[dict[str, Any]], trainer: Any) -> int:
    best = getattr(getattr(trainer, "early_stopping", None), "best_epoch", None)
    if best:
        return int(best)
    return len(history)
