"""``dlcli tune``: parse, run the library's search, render its trials as they change."""

from __future__ import annotations

import os
import shlex
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from dlcli.cli import render
from dlcli.cli.common import JsonOpt, QuietOpt, SetOpt, overrides
from dlcli.cli.progress import EpochProgress
from dlcli.errors import Interrupted, UsageError

DEFAULT_TRIALS = 40
SHOWN_ROWS = 15  # trials in the live table: the latest ones (the best is in its title)


def tune(
    config: Annotated[
        Path | None,
        typer.Argument(
            metavar="CONFIG",
            help="dlcli.toml with a [tune] section (default: ./dlcli.toml if present).",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        str | None, typer.Option(metavar="FILE|URL", help="Training data (data.path).", show_default=False)
    ] = None,
    target: Annotated[
        str | None, typer.Option(metavar="COLUMN", help="Target column (data.target).", show_default=False)
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help=f"Finished trials the study should have (complete or pruned); default {DEFAULT_TRIALS}, "
            "with --resume the study's own (a lower number ends it sooner).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", min=0.0, help="Start no trial after this many seconds.", show_default=False),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            min=1,
            help="Worker processes on this machine, one BLAS thread each (default: one per core; 1 with --seed "
            "gives the same trials every time).",
            show_default=False,
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="The study's storage: a journal file on a shared file system, or a database URL "
            "(sqlite:///…, postgresql://…), so that dlcli tune on other machines joins the same study "
            "(default: DIR/study.journal).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(metavar="N", help="Seed of the sampler (default: train.seed).", show_default=False),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="What the search optimises: {choices:train.monitor} (default: train.monitor, the validation loss).",
            show_default=False,
        ),
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(
            metavar="DIRECTION",
            help="minimize or maximize (default: what suits --metric).",
            show_default=False,
        ),
    ] = None,
    cv: Annotated[
        int,
        typer.Option(
            metavar="K",
            min=0,
            help="Score each trial by K-fold cross-validation (stratified for classes) instead of one split: "
            "for small data (0: off).",
        ),
    ] = 0,
    sampler: Annotated[str, typer.Option(metavar="NAME", help="How trials are drawn: {names:sampler}.")] = "tpe",
    pruner: Annotated[
        str, typer.Option(metavar="NAME", help="What stops bad trials early, on epochs: {names:pruner}.")
    ] = "hyperband",
    epochs: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, help="Most epochs of a trial (train.epochs).", show_default=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Tune directory (default: runs/<name>-tune-N).", show_default=False),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Continue the study of this tune directory (after Ctrl-C or a kill, or with another --trials).",
            show_default=False,
        ),
    ] = None,
    no_train: Annotated[
        bool, typer.Option("--no-train", help="Write best.toml but train no model from it (a joining worker).")
    ] = False,
    set_: SetOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Search hyperparameters over the [tune] section of dlcli.toml.

    Each [tune] entry is a config key with a distribution — uniform(a, b), loguniform(a, b),
    int(a, b), logint(a, b) — or a list of choices, e.g. train.lr = "loguniform(1e-4, 3e-2)"
    or model.hidden = ["64,32", "128,64"]. Trials train in memory; the pruner stops most of
    them after a few epochs. The tune directory holds the study (study.journal), trials.jsonl,
    best.toml (a complete config with the best values) and, unless --no-train, best/ and
    model.h5 trained from it. Ctrl-C or a kill leaves the study intact: --resume DIR continues.

    Example: dlcli tune samples/iris/dlcli.toml --trials 20 --out runs/iris-tune
    """
    from dlcli.config import parse_set_options
    from dlcli.workflows import tuning
    from dlcli.workflows.search import require_optuna

    _check_choices(sampler, pruner, direction)
    require_optuna()
    if resume is not None:
        given = [
            name
            for name, value in (("CONFIG", config), ("--data", data), ("--target", target), ("--out", out))
            if value
        ]
        if given or set_ or epochs:
            raise UsageError(
                f"--resume continues the study as it was set up, so {(given or ['--set or --epochs'])[0]} "
                "cannot go with it.",
                hint="Resume with only the directory (and --trials, --timeout or --workers).",
            )
        settings = tuning.TuneSettings.load(resume)
        settings.trials = trials or settings.trials
        settings.timeout, settings.workers = timeout, workers or settings.workers
    else:
        flags = overrides(data__path=data, data__target=target, train__epochs=epochs)
        flags.update(parse_set_options(set_ or []))
        settings = tuning.new_settings(
            config,
            flags,
            out=out,
            trials=trials or DEFAULT_TRIALS,
            metric=metric,
            direction=direction,
            seed=seed,
            cv=cv,
            sampler=sampler,
            pruner=pruner,
            storage=storage,
            timeout=timeout,
            workers=min(workers or _cores(), trials or DEFAULT_TRIALS),
        )
    settings.save()
    search = tuning.Search(settings)
    search.prepare()
    render.log(
        f"Tuning {len(settings.space)} setting(s) over {settings.trials} trials on {settings.workers} worker(s), "
        f"{settings.direction} {settings.metric} → {settings.directory}",
        quiet,
    )
    view = TrialView(settings, quiet)
    try:
        with view:
            found = search.run(view.update)
    except KeyboardInterrupt:
        raise Interrupted(
            f"Tuning interrupted; the study in {settings.directory} is intact.",
            hint=f"Continue it with: dlcli tune --resume {shlex.quote(settings.directory)}",
        ) from None
    search.write_trials(found)
    best = tuning.require_best(settings, found)
    best_toml = tuning.write_best(settings, best)
    model = None if no_train else _train_best(settings, best, quiet)
    _report(settings, found, best, best_toml, model, json_)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_choices(sampler: str, pruner: str, direction: str | None) -> None:
    from dlcli.workflows.search import PRUNERS, SAMPLERS

    for flag, value, valid in (
        ("--sampler", sampler, SAMPLERS),
        ("--pruner", pruner, PRUNERS),
        ("--direction", direction, ("minimize", "maximize")),
    ):
        if value is not None and value not in valid:
            raise UsageError(f"{flag} must be one of: {', '.join(valid)}; got '{value}'.")


def _train_best(settings: Any, best: Any, quiet: bool) -> Path:
    from dlcli.workflows import tuning

    run = tuning.final_run(settings, best)
    render.log(f"Training the best configuration (trial {best.number}) → {run.run_dir}", quiet)
    try:
        with EpochProgress(run.total_epochs, quiet=quiet) as progress:
            for record in run.records():
                progress.update(record)
        render.log(run.stop_reason(), quiet)
        plan = run.refit_plan()
        if plan:
            render.log(plan, quiet)
            with EpochProgress(run.best_epoch(), quiet=quiet, label="refit") as refit:
                result = run.finish(on_refit_epoch=refit.update)
        else:
            result = run.finish()
    except KeyboardInterrupt:
        checkpoint = run.save_interrupt_checkpoint()
        raise Interrupted(
            f"Training the best configuration interrupted; checkpoint saved to {checkpoint}.",
            hint=f"Resume with: dlcli train --resume {shlex.quote(str(checkpoint))}",
        ) from None
    return tuning.publish_model(settings, result.model)


def _report(settings: Any, found: list[Any], best: Any, best_toml: Path, model: Path | None, json_: bool) -> None:
    counts = {state: sum(t.state == state for t in found) for state in ("complete", "pruned", "failed")}
    if json_:
        render.emit_json(
            {
                "directory": settings.directory,
                "study": settings.study,
                "storage": settings.storage,
                "metric": settings.metric,
                "direction": settings.direction,
                "best": best.to_dict(),
                "best_config": str(best_toml),
                "model": str(model) if model else None,
                "counts": counts,
                "trials": [t.to_dict() for t in found],
            }
        )
        return
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    render.out().print(f"Best trial {best.number} of {len(found)} ({summary}): {settings.metric} {best.value:.6g}")
    for key, value in best.params.items():
        render.out().print(f"  {key} = {_shown(value)}")
    render.out().print(f"Config: {best_toml}")
    if model is not None:
        render.out().print(f"Model:  {model}")


def _shown(value: Any) -> str:
    if value == "":  # model.hidden's linear model: a blank cell would read as a missing value
        return '""'
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class TrialView:
    """The trials as they change: a live table on a terminal, a line per finished trial in a
    pipe. ``update`` is called from the search's watcher thread."""

    def __init__(self, settings: Any, quiet: bool) -> None:
        self.settings, self.quiet = settings, quiet
        self.live_table = not quiet and render.stderr_is_terminal()
        self._printed: set[int] = set()
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> TrialView:
        if self.live_table:
            from rich.live import Live

            self._live = Live(console=render.err(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, trials: list[Any]) -> None:
        if self.quiet:
            return
        with self._lock:
            if self._live is not None:
                self._live.update(self._table(trials))
                return
            for trial in trials:
                if trial.finished and trial.number not in self._printed:
                    self._printed.add(trial.number)
                    render.log(self._line(trial))

    def _line(self, trial: Any) -> str:
        value = "-" if trial.value is None else f"{trial.value:.6g}"
        seconds = "" if trial.seconds is None else f" {trial.seconds:.1f}s"
        params = " ".join(f"{k}={_shown(v)}" for k, v in trial.params.items())
        note = f" ({trial.note})" if trial.note else ""
        return (
            f"trial {trial.number} {trial.state} {self.settings.metric}={value} "
            f"epochs={trial.epochs}{seconds} {params}{note}"
        )

    def _table(self, trials: list[Any]) -> Any:
        from rich.table import Table

        from dlcli.workflows.search import best_trial

        best = best_trial(trials, self.settings.direction)
        finished = sum(t.finished for t in trials)
        title = f"{finished}/{self.settings.trials} trials"
        if best is not None:
            title += f" · best {self.settings.metric} {best.value:.6g} (trial {best.number})"
        table = Table(title=title, title_justify="left")
        keys = [d["key"] for d in self.settings.space]
        for column in ("trial", *keys, self.settings.metric, "epochs", "state"):
            table.add_column(column, justify="right" if column != "state" else "left", no_wrap=True)
        for trial in trials[-SHOWN_ROWS:]:
            value = "" if trial.value is None else f"{trial.value:.6g}"
            state = trial.state + (" ★" if best is not None and trial.number == best.number else "")
            table.add_row(
                str(trial.number),
                *(_shown(trial.params[k]) if k in trial.params else "" for k in keys),
                value,
                str(trial.epochs),
                state,
            )
        return table
