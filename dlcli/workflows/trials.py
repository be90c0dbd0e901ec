"""One tuning trial: a configuration trained in memory, scored on held-out rows.

A trial is the selection run of ``dlcli train`` with its configuration — the same split,
initialisation and shuffling (one seed, spawned alike) — without a run directory: nothing is
written, the refit is skipped, and an :class:`~dlcli.train.OnEpoch` callback hands each
epoch's score to the search (which may stop the trial there). The data is read and encoded
once per worker and data configuration (:class:`TrialData`), not once per trial.

With ``cv`` folds, the rows of the split (training and validation) are dealt into stratified
folds; the folds train in lockstep and each epoch's score is the mean over the folds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dlcli.config import Config
from dlcli.data.batches import ArrayBatchSource, BatchSource
from dlcli.data.prepare import TrainingData, input_moments
from dlcli.errors import ConfigError, setting
from dlcli.nn.tasks import monitor_mode
from dlcli.train import EpochRecord, OnEpoch, run_callbacks

from .builders import build_model, build_optimizer, build_schedule, build_trainer
from .trainingdata import read_training_data

# report(epoch, score): the search hears each epoch's score and may raise to stop the trial.
Report = Callable[[int, float], None]


@dataclass
class Fold:
    train: BatchSource
    val: BatchSource


@dataclass
class TrialOutcome:
    value: float  # the best score over the epochs (the epoch restore_best keeps)
    epochs: int  # epochs trained (the most of any fold)
    best_epoch: int


class TrialData:
    """The training data of each data configuration seen, read once (``cv``: its folds)."""

    def __init__(self, cv: int = 0) -> None:
        self.cv = cv
        self._read: dict[str, tuple[TrainingData, list[Fold]]] = {}

    def folds(self, cfg: Config) -> tuple[TrainingData, list[Fold]]:
        key = repr((cfg.data, cfg.model.dtype, cfg.train.seed))  # what reading and encoding depend on
        if key not in self._read:
            data = read_training_data(cfg, np.random.SeedSequence(cfg.train.seed).spawn(3)[0])
            self._read[key] = (data, self._split(data, cfg))
        return self._read[key]

    def _split(self, data: TrainingData, cfg: Config) -> list[Fold]:
        if not self.cv:
            if data.val is None:
                raise ConfigError(
                    "Tuning scores each trial on validation rows, but data.val_split is 0.",
                    hint=f"Set {setting('data.val_split', '0.2')}, or use --cv 5 for k-fold cross-validation.",
                )
            return [Fold(data.train, data.val)]
        whole = data.everything
        if not isinstance(whole, ArrayBatchSource):
            raise ConfigError(
                "Cross-validation (--cv) needs data that fits in memory (data.memory_limit); this data streams.",
                hint="Leave out --cv: large data has enough validation rows for one split.",
            )
        from dlcli.data.splits import kfold_indices

        # Its own stream of the seed: the folds do not change the split or the initialisation.
        rng = np.random.default_rng(np.random.SeedSequence(cfg.train.seed).spawn(4)[3])
        pairs = kfold_indices(whole.y, self.cv, rng, stratify=data.schema.is_classification)
        return [
            Fold(ArrayBatchSource(whole.X[t], whole.y[t]), ArrayBatchSource(whole.X[v], whole.y[v])) for t, v in pairs
        ]


def run_trial(cfg: Config, data: TrialData, metric: str, report: Report) -> TrialOutcome:
    """Train ``cfg`` on each fold, reporting the mean best-so-far ``metric`` after every epoch."""
    training, folds = data.folds(cfg)
    seeds = np.random.SeedSequence(cfg.train.seed).spawn(3)  # as prepare_training: split, init, training
    higher = monitor_mode(metric) == "max"
    best: list[float | None] = [None] * len(folds)
    best_epoch = [0] * len(folds)

    def tracker(i: int) -> Callable[[EpochRecord], None]:
        def track(record: EpochRecord) -> None:
            value = record.values().get(metric)
            if value is None or not math.isfinite(value):
                return
            if best[i] is None or (value > best[i] if higher else value < best[i]):  # type: ignore[operator]
                best[i], best_epoch[i] = value, record.epoch

        return track

    # The training rows' metrics are a pass over them each epoch; a trial scored on validation
    # rows (or on the training loss, which comes free) does without.
    train_metrics = not (metric.startswith("val_") or metric == "loss")
    streams = [
        run_callbacks(_fit(cfg, training, fold, seeds, train_metrics), [OnEpoch(tracker(i))])
        for i, fold in enumerate(folds)
    ]
    epochs = 0
    for records in itertools.zip_longest(*streams):
        epochs = max(r.epoch for r in records if r is not None)
        scores = [b for b in best if b is not None]
        if len(scores) == len(folds):
            report(epochs, float(np.mean(scores)))
    if any(b is None for b in best):
        raise ConfigError(f"No epoch of the trial reported {metric}.", hint=f"Choose another --metric than {metric}.")
    return TrialOutcome(float(np.mean(best)), epochs, round(float(np.mean(best_epoch))))  # type: ignore[arg-type]


def _fit(
    cfg: Config, training: TrainingData, fold: Fold, seeds: list[np.random.SeedSequence], train_metrics: bool
) -> Iterator[EpochRecord]:
    moments = input_moments(fold.train)
    model = build_model(cfg, training.schema, moments, np.random.default_rng(seeds[1]))
    trainer = build_trainer(
        cfg,
        model,
        build_optimizer(cfg),
        build_schedule(cfg, fold.train.n_rows),
        np.random.default_rng(seeds[2]),
        training.schema,
        has_validation=True,
        train_rows=fold.train.n_rows,
        train_metrics=train_metrics,
    )
    yield from trainer.fit(fold.train, fold.val)
