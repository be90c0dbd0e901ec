"""The Optuna side of ``dlcli tune``: samplers, pruners, storage, and trials as dlcli shows them.

Optuna (the ``tune`` extra) is imported here, when a search runs, never on the ``--help``
path. Its study, samplers and pruners are used as they are; this module only names them
(the registries below feed the flags' choices) and translates its trials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlcli.config.space import Dimension
from dlcli.errors import UsageError

if TYPE_CHECKING:
    from .tuning import TuneSettings


INSTALL_HINT = "Install the tune extra: pip install 'dlcli[tune]' (or pip install optuna)."


def require_optuna() -> None:
    """Fail now (exit 2, with the install hint) when no search could run."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("dlcli tune needs Optuna, which is not installed.", hint=INSTALL_HINT) from None


def _tpe(seed: int, settings: TuneSettings) -> Any:
    from optuna.samplers import TPESampler

    # constant_liar: parallel workers do not all sample next to the same running trial.
    return TPESampler(seed=seed, multivariate=True, constant_liar=settings.workers > 1)


def _random(seed: int, settings: TuneSettings) -> Any:
    from optuna.samplers import RandomSampler

    return RandomSampler(seed=seed)


def _sobol(seed: int, settings: TuneSettings) -> Any:
    from optuna.samplers import QMCSampler

    return QMCSampler(qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False)


SAMPLERS: dict[str, Callable[[int, TuneSettings], Any]] = {"tpe": _tpe, "random": _random, "sobol": _sobol}


def min_epochs(settings: TuneSettings) -> int:
    """The first rung of successive halving: about 1/81 of the epoch budget (four halvings
    by 3 before the full budget), and never below 2 epochs, whose scores are mostly noise."""
    return max(2, settings.max_epochs // 81)


def _hyperband(settings: TuneSettings) -> Any:
    from optuna.pruners import HyperbandPruner

    return HyperbandPruner(min_resource=min_epochs(settings), max_resource=settings.max_epochs, reduction_factor=3)


def _halving(settings: TuneSettings) -> Any:
    from optuna.pruners import SuccessiveHalvingPruner

    return SuccessiveHalvingPruner(min_resource=min_epochs(settings), reduction_factor=3)


def _median(settings: TuneSettings) -> Any:
    from optuna.pruners import MedianPruner

    return MedianPruner(n_startup_trials=5, n_warmup_steps=min_epochs(settings))


def _none(settings: TuneSettings) -> Any:
    from optuna.pruners import NopPruner

    return NopPruner()


PRUNERS: dict[str, Callable[[TuneSettings], Any]] = {
    "hyperband": _hyperband,
    "halving": _halving,
    "median": _median,
    "none": _none,
}


def open_storage(url: str) -> Any:
    """A journal file (a path: the default, shared through a file system) or a database URL
    (``sqlite:///…``, ``postgresql://…``, which Optuna opens with SQLAlchemy)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    _quiet(optuna)
    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors are many; all mean "cannot open"
            raise UsageError(f"Cannot open the study storage '{url}': {exc}.") from None
    try:
        return JournalStorage(JournalFileBackend(url))
    except OSError as exc:
        raise UsageError(f"Cannot open the study journal '{url}': {exc.strerror}.") from None


def create_study(settings: TuneSettings, worker: int = 0) -> Any:
    """The study (created on first use) with this worker's sampler: seeded by the seed and
    the worker number, and by how many trials the study has (a resumed search draws anew)."""
    import numpy as np
    import optuna

    storage = open_storage(settings.storage)
    direction: Any = settings.direction  # "minimize" or "maximize", checked by the CLI
    study = optuna.create_study(storage=storage, study_name=settings.study, direction=direction, load_if_exists=True)
    done = len(study.get_trials(deepcopy=False))
    seed = (
        int(np.random.SeedSequence([settings.seed, worker, done]).generate_state(1)[0])
        if done or worker
        else settings.seed
    )
    study.sampler = SAMPLERS[settings.sampler](seed, settings)
    study.pruner = PRUNERS[settings.pruner](settings)
    return study


def _quiet(optuna: Any) -> None:
    # dlcli shows each trial itself; Optuna's own log lines would repeat them on stderr.
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def baseline(cfg: Any, dimensions: list[Dimension]) -> dict[str, Any]:
    """The values ``cfg`` has for the dimensions whose space holds them: the configuration as
    it stands, as a first trial, so the best found is never worse on the validation rows
    than not tuning at all."""
    params: dict[str, Any] = {}
    for d in dimensions:
        section, _, name = d.key.partition(".")
        value = getattr(getattr(cfg, section), name)
        shown = ",".join(map(str, value)) if isinstance(value, list) else value
        if (d.choices and shown in d.choices) or (
            not d.choices and not isinstance(value, str) and d.low <= value <= d.high
        ):
            params[d.key] = shown
    return params


def suggest(trial: Any, dimensions: list[Dimension]) -> dict[str, Any]:
    """The trial's value for each dimension, by dotted key."""
    params: dict[str, Any] = {}
    for d in dimensions:
        if d.kind == "choice":
            params[d.key] = trial.suggest_categorical(d.key, list(d.choices))
        elif d.kind == "int":
            params[d.key] = trial.suggest_int(d.key, int(d.low), int(d.high), log=d.log)
        else:
            params[d.key] = trial.suggest_float(d.key, d.low, d.high, log=d.log)
    return params


@dataclass
class Trial:
    """A trial as dlcli shows it (a row of trials.jsonl)."""

    number: int
    state: str  # running, complete, pruned, failed
    value: float | None  # complete: its score; pruned: the last one reported
    params: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0
    seconds: float | None = None
    note: str = ""

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.number,
            "state": self.state,
            "value": self.value,
            "epochs": self.epochs,
            "seconds": self.seconds,
            "params": self.params,
            **({"note": self.note} if self.note else {}),
        }


_STATES = {"RUNNING": "running", "WAITING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}


def as_trial(frozen: Any) -> Trial:
    attrs = frozen.user_attrs
    value = frozen.value
    if value is None and frozen.intermediate_values:
        value = frozen.intermediate_values[max(frozen.intermediate_values)]
    return Trial(
        number=frozen.number,
        state=_STATES[frozen.state.name],
        value=value,
        params=dict(frozen.params),
        epochs=int(attrs.get("epochs", max(frozen.intermediate_values, default=0))),
        seconds=attrs.get("seconds"),
        note=str(attrs.get("note", "")),
    )


def study_trials(storage: Any, study_name: str) -> list[Trial]:
    study_id = storage.get_study_id_from_name(study_name)
    return [as_trial(t) for t in storage.get_all_trials(study_id, deepcopy=False)]


def best_trial(trials: list[Trial], direction: str) -> Trial | None:
    complete = [t for t in trials if t.state == "complete" and t.value is not None]
    if not complete:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(complete, key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]


class Watcher:
    """Polls the study from a thread of its own and calls ``on_change(trials)`` when a
    trial starts, reports or ends, whichever worker (or machine) runs it."""

    def __init__(
        self, storage_url: str, study_name: str, on_change: Callable[[list[Trial]], None], every: float = 0.5
    ) -> None:
        self.url, self.study, self.on_change, self.every = storage_url, study_name, on_change, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dlcli-tune-watch", daemon=True)
        self._seen: list[Any] = []

    def __enter__(self) -> Watcher:
        self._storage = open_storage(self.url)  # its own: the journal is read under a file lock
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # the final state, after the last trial ended

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.poll()

    def poll(self) -> None:
        trials = study_trials(self._storage, self.study)
        state = [(t.number, t.state, t.value, t.epochs) for t in trials]
        if state != self._seen:
            self._seen = state
            self.on_change(trials)
