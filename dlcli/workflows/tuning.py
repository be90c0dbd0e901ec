"""``dlcli tune``: an Optuna study over the ``[tune]`` space, run by K worker processes.

The study lives in a journal file in the tune directory (or in ``--storage``, which workers
on other machines open too), so it survives Ctrl-C and kills and ``--resume DIR`` continues
it. Each worker reads the data once, asks the sampler (TPE, random or Sobol) for a trial,
trains it in memory (:mod:`.trials`) and reports every epoch to the pruner (Hyperband,
successive halving or median on epochs), which stops most trials after a few epochs. The
tune directory ends with ``trials.jsonl``, ``best.toml`` (a complete config with the best
values) and, unless told not to, a model trained from it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dlcli import files
from dlcli.config import Config, load_config
from dlcli.config.space import Dimension, load_space
from dlcli.errors import ConfigError, DlcliError, NonFiniteLossError, UsageError

from .rundir import TUNE_BEST_RUN, TUNE_SETTINGS
from .search import Trial, Watcher, baseline, best_trial, create_study, open_storage, study_trials, suggest
from .trials import TrialData, run_trial

JOURNAL_FILE = "study.journal"
TRIALS_FILE = "trials.jsonl"
BEST_FILE = "best.toml"


@dataclass
class TuneSettings:
    """Everything a study's workers need; saved as tune.json so --resume continues alike."""

    directory: str
    config: str  # the config file ("" for none)
    overrides: dict[str, Any]
    storage: str
    study: str
    trials: int
    metric: str
    direction: str
    seed: int
    cv: int = 0
    sampler: str = "tpe"
    pruner: str = "hyperband"
    max_epochs: int = 1
    timeout: float | None = None
    workers: int = 1
    space: list[dict[str, Any]] = field(default_factory=list)

    def base_config(self, params: dict[str, Any] | None = None) -> Config:
        """The resolved config of a trial with ``params`` (none: the base)."""
        return load_config(self.config or None, {**self.overrides, **(params or {}), "train.monitor": self.metric})

    def dimensions(self) -> list[Dimension]:
        return [Dimension(**{**d, "choices": tuple(d["choices"])}) for d in self.space]

    def save(self) -> None:
        files.write_text(Path(self.directory) / TUNE_SETTINGS, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> TuneSettings:
        path = directory / TUNE_SETTINGS
        try:
            found = json.loads(path.read_text())
            return cls(**{**found, "directory": str(directory)})
        except FileNotFoundError:
            raise UsageError(
                f"'{directory}' is not a tune directory: it has no {TUNE_SETTINGS}.",
                hint="Resume the directory dlcli tune printed (runs/<name>-tune-N).",
            ) from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{path} is not a tune settings file ({exc}).") from None


def new_settings(
    config: Path | None,
    overrides: dict[str, Any],
    *,
    out: Path | None,
    trials: int,
    metric: str | None,
    direction: str | None,
    seed: int | None,
    cv: int,
    sampler: str,
    pruner: str,
    storage: str | None,
    timeout: float | None,
    workers: int,
) -> TuneSettings:
    """Check the space and the flags against the config, and make the tune directory."""
    from dlcli.nn.tasks import monitor_mode

    from .rundir import _next_free, _run_name

    cfg = load_config(config, overrides)
    space = load_space(cfg.source or None)
    if not space:
        raise ConfigError(
            f"Nothing to tune: {cfg.source or 'the configuration'} has no [tune] section.",
            hint='Add one, e.g. [tune] train.lr = "loguniform(1e-4, 3e-2)"; dlcli init writes a commented default.',
        )
    metric = metric or cfg.train.monitor
    from dlcli.config import check

    check("train.monitor", metric)
    direction = direction or ("maximize" if monitor_mode(metric) == "max" else "minimize")
    name = _run_name(cfg)
    if out is None:
        directory = _next_free(Path("runs") / f"{name}-tune")
    else:
        directory = out
        if (directory / TUNE_SETTINGS).exists():
            raise UsageError(
                f"'{directory}' already holds a study.",
                hint=f"Continue it with: dlcli tune --resume {directory}; or choose another --out.",
            )
        directory.mkdir(parents=True, exist_ok=True)
    epochs = max([cfg.train.epochs, *(d.high for d in space if d.key == "train.epochs")])
    settings = TuneSettings(
        directory=str(directory),
        config=str(Path(cfg.source).absolute()) if cfg.source else "",
        overrides=dict(overrides),
        storage=storage or str((directory / JOURNAL_FILE).absolute()),
        study=name,
        trials=trials,
        metric=metric,
        direction=direction,
        seed=cfg.train.seed if seed is None else seed,
        cv=cv,
        sampler=sampler,
        pruner=pruner,
        max_epochs=int(epochs),
        timeout=timeout,
        workers=workers,
        space=[asdict(d) for d in space],
    )
    study = create_study(settings)  # a bad --storage fails here, before anything runs
    first = baseline(cfg, space)
    if first and not study.get_trials(deepcopy=False):  # a new study, not one joined on --storage
        # Two commands creating one study at the same instant may both queue it: one trial
        # spent twice (the same seed, the same result), never a wrong one.
        study.enqueue_trial(first, skip_if_exists=True)
    settings.save()
    return settings


# ---- the workers ---------------------------------------------------------------------------


def work(
    settings: TuneSettings,
    worker: int,
    deadline: float | None,
    parent: int | None = None,
    data: TrialData | None = None,
) -> None:
    """One worker: read the data once, then run trials until the study has enough.

    ``parent``: the pid of the ``dlcli tune`` that started this process; a worker whose
    parent died stops after the current epoch instead of running on unattended.
    """
    from threadpoolctl import threadpool_limits

    study = create_study(settings, worker)
    data = data or TrialData(settings.cv)
    dimensions = settings.dimensions()
    with threadpool_limits(1):  # K workers on K cores: one BLAS thread each
        while _wanted(study, settings.trials) and (deadline is None or time.time() < deadline):
            trial = study.ask()
            _run(study, trial, settings, dimensions, data, parent)


def _wanted(study: Any, trials: int) -> bool:
    """Whether another trial is needed: finished ones and those running elsewhere count."""
    from optuna.trial import TrialState

    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return len(study.get_trials(deepcopy=False, states=counted)) < trials


def _run(
    study: Any, trial: Any, settings: TuneSettings, dimensions: list[Dimension], data: TrialData, parent: int | None
) -> None:
    import optuna

    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid(), "started": _started(os.getpid())})
    started = time.perf_counter()
    params = suggest(trial, dimensions)

    def report(epoch: int, value: float) -> None:
        trial.report(value, epoch)
        if parent is not None and os.getppid() != parent:
            raise KeyboardInterrupt  # orphaned: leave the study as an interrupt would
        if trial.should_prune():
            raise optuna.TrialPruned()

    try:
        outcome = run_trial(settings.base_config(params), data, settings.metric, report)
    except optuna.TrialPruned:
        trial.set_user_attr("seconds", time.perf_counter() - started)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    except NonFiniteLossError as exc:
        # A diverging configuration is a bad one, not a broken search: the sampler learns from it.
        trial.set_user_attr("note", f"diverged: {exc.message}")
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    except BaseException as exc:
        note = exc.message if isinstance(exc, DlcliError) else "interrupted"
        trial.set_user_attr("note", note)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    trial.set_user_attr("seconds", time.perf_counter() - started)
    trial.set_user_attr("epochs", outcome.epochs)
    trial.set_user_attr("best_epoch", outcome.best_epoch)
    study.tell(trial, outcome.value)


def _worker_main(settings: TuneSettings, worker: int, deadline: float | None, parent: int) -> None:
    """The entry point of a spawned worker: quiet, and an interrupt is not a traceback."""
    # The trial is marked failed with the reason; worker 0 reports it.
    with contextlib.suppress(KeyboardInterrupt, DlcliError):
        work(settings, worker, deadline, parent)


class Search:
    """The search of one ``dlcli tune`` invocation: this process is worker 0, and
    ``workers - 1`` more run as child processes on this machine."""

    def __init__(self, settings: TuneSettings) -> None:
        self.settings = settings
        self.directory = Path(settings.directory)
        self.started = time.time()
        self._data: TrialData | None = None

    def prepare(self) -> TrialData:
        """Read this process's data once (bad data is reported before any worker starts),
        and sweep trials a dead process left running."""
        if self._data is None:
            sweep_stale(self.settings)
            self._data = TrialData(self.settings.cv)
            self._data.folds(self.settings.base_config())
        return self._data

    def run(self, on_trials: Callable[[list[Trial]], None]) -> list[Trial]:
        """Run until the study has ``settings.trials`` finished trials or the timeout passes;
        ``on_trials`` hears the study's trials whenever one changes (from another thread)."""
        settings = self.settings
        deadline = self.started + settings.timeout if settings.timeout else None
        data = self.prepare()
        context = multiprocessing.get_context("spawn")  # no forked copy of this process's threads
        children = [
            context.Process(target=_worker_main, args=(settings, w, deadline, os.getpid()), daemon=True)
            for w in range(1, settings.workers)
        ]
        watcher = Watcher(settings.storage, settings.study, lambda trials: self._changed(trials, on_trials))
        try:
            for child in children:
                child.start()
            with watcher:
                work(settings, 0, deadline, data=data)
                for child in children:
                    child.join()
        finally:
            for child in children:
                _stop(child)
            sweep_stale(settings)
        return self.trials()

    def _changed(self, trials: list[Trial], on_trials: Callable[[list[Trial]], None]) -> None:
        self.write_trials(trials)
        on_trials(trials)

    def trials(self) -> list[Trial]:
        return study_trials(open_storage(self.settings.storage), self.settings.study)

    def write_trials(self, trials: list[Trial] | None = None) -> Path:
        path = self.directory / TRIALS_FILE
        rows = trials if trials is not None else self.trials()
        files.write_text(path, "".join(json.dumps(t.to_dict()) + "\n" for t in rows if t.finished))
        return path


def _stop(child: Any) -> None:
    """A worker that is still running gets an interrupt, then, after 10 s, a kill."""
    import signal

    if child.is_alive() and child.pid is not None:
        os.kill(child.pid, signal.SIGINT)
    child.join(10)
    if child.is_alive():
        child.kill()
        child.join(5)


def sweep_stale(settings: TuneSettings) -> None:
    """Trials left running by a dead process of this machine (a kill, a crash) become failed,
    so that they neither count nor stay 'running' for ever; other machines' are theirs."""
    import optuna

    storage = open_storage(settings.storage)
    study_id = storage.get_study_id_from_name(settings.study)
    host = socket.gethostname()
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        pid = int(worker.get("pid", 0))
        if worker.get("host") == host and (pid == os.getpid() or _started(pid) != worker.get("started")):
            storage.set_trial_user_attr(trial._trial_id, "note", "interrupted")
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _started(pid: int) -> str | None:
    """When process ``pid`` started (Linux: /proc), so a reused pid is not taken for the
    worker that had it; ``None`` when it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]  # field 22, starttime, after the (command)
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"


def best_config(settings: TuneSettings, best: Trial) -> Config:
    """The base config with the best trial's values: what best.toml holds."""
    from dataclasses import replace

    cfg = settings.base_config(best.params)
    # Reruns of best.toml go to runs/<name>-N, not runs/best-N.
    return replace(cfg, output=replace(cfg.output, name=settings.study, out=""))


def write_best(settings: TuneSettings, best: Trial) -> Path:
    from dlcli import tomlwriter
    from dlcli.config.resolve import portable

    directory = Path(settings.directory)
    cfg = best_config(settings, best)
    header = (
        f"The best configuration dlcli tune found in {directory}: trial {best.number}, "
        f"{settings.metric} {best.value:.6g}.\nTrain it with: dlcli train {directory / BEST_FILE}"
    )
    path = directory / BEST_FILE
    files.write_text(path, tomlwriter.dumps(portable(cfg, directory), header=header))
    return path


def require_best(settings: TuneSettings, trials: list[Trial]) -> Trial:
    """The best complete trial, or an error saying why there is none."""
    best = best_trial(trials, settings.direction)
    if best is None:
        failed = next((t.note for t in trials if t.state == "failed" and t.note), None)
        raise DlcliError(
            "No trial completed" + (f"; the first failure: {failed}" if failed else "."),
            hint="Give the search more --trials or a longer --timeout, or a pruner that stops fewer (--pruner none).",
        )
    return best


def final_run(settings: TuneSettings, best: Trial) -> Any:
    """The training run of the best configuration, into the tune directory's ``best/``
    (a run directory like any other: ``dlcli runs``, ``plot`` and ``--resume`` work on it)."""
    from dataclasses import replace

    from .training import prepare_training

    cfg = best_config(settings, best)
    cfg = replace(cfg, output=replace(cfg.output, out=str(Path(settings.directory) / TUNE_BEST_RUN)))
    return prepare_training(cfg, force=True)


def publish_model(settings: TuneSettings, model: str | Path) -> Path:
    """``model.h5`` of the tune directory: a copy of the best run's model, written atomically."""
    import shutil

    target = Path(settings.directory) / "model.h5"
    with files.atomic_path(target) as temporary:
        shutil.copyfile(model, temporary)
    return target
