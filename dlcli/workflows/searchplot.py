"""The picture of a search (``dlcli plot TUNE_DIR``): the score of each trial with the best so
far, and how much each tuned setting mattered.

Importances are Optuna's PED-ANOVA estimate (no scikit-learn needed): the share of the
score's variation among the better trials that each parameter explains. matplotlib (the
plot extra) draws the picture; the terminal gets the same as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcli import files
from dlcli.errors import UsageError

from .plots import _pyplot, picture_format
from .rundir import TUNE_SETTINGS


@dataclass
class SearchReport:
    directory: Path
    metric: str
    direction: str
    trials: list[Any]  # search.Trial, in trial order
    importances: dict[str, float]

    def best_so_far(self) -> list[float | None]:
        """For each trial, the best complete score up to it (None before the first)."""
        best: float | None = None
        series: list[float | None] = []
        for trial in self.trials:
            if trial.state == "complete" and trial.value is not None:
                better = best is None or (trial.value > best if self.direction == "maximize" else trial.value < best)
                best = trial.value if better else best
            series.append(best)
        return series


def is_tune_directory(path: str | Path) -> bool:
    return (Path(path) / TUNE_SETTINGS).is_file()


def search_report(directory: str | Path) -> SearchReport:
    """The trials and parameter importances of the study of a tune directory."""
    from .search import open_storage, require_optuna, study_trials
    from .tuning import TuneSettings

    require_optuna()
    settings = TuneSettings.load(Path(directory))
    storage = open_storage(settings.storage)
    trials = study_trials(storage, settings.study)
    if not any(t.finished for t in trials):
        raise UsageError(f"The study in '{directory}' has no finished trial to plot.", hint="Plot it after a trial.")
    return SearchReport(Path(directory), settings.metric, settings.direction, trials, _importances(storage, settings))


def _importances(storage: Any, settings: Any) -> dict[str, float]:
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    study = optuna.load_study(study_name=settings.study, storage=storage)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 3:  # nothing to compare yet
        return {}
    try:
        found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    except (RuntimeError, ValueError):  # e.g. every trial drew the same values
        return {}
    return {key: float(value) for key, value in found.items()}


def write_search_plot(report: SearchReport, output: Path) -> str:
    """Draw ``report`` into ``output`` (PNG or SVG by suffix), atomically; the format."""
    fmt = picture_format(output)
    pyplot = _pyplot()
    panels = 2 if report.importances else 1
    figure, axes = pyplot.subplots(panels, 1, figsize=(7.0, 3.0 * panels + 0.4), squeeze=False)
    try:
        _draw_trials(axes[0, 0], report)
        if report.importances:
            _draw_importances(axes[1, 0], report.importances)
        figure.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(output) as temporary:
            figure.savefig(temporary, format=fmt, dpi=120)
    finally:
        pyplot.close(figure)
    return fmt


_STYLE = {"complete": ("o", "tab:blue"), "pruned": ("x", "tab:gray"), "failed": ("^", "tab:red")}


def _draw_trials(axis: Any, report: SearchReport) -> None:
    for state, (marker, color) in _STYLE.items():
        points = [(t.number, t.value) for t in report.trials if t.state == state and t.value is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axis.scatter(xs, ys, marker=marker, color=color, label=state, s=22)
    best = report.best_so_far()
    numbers = [t.number for t, b in zip(report.trials, best, strict=True) if b is not None]
    axis.step(numbers, [b for b in best if b is not None], where="post", color="tab:orange", label="best so far")
    axis.set_title(f"{report.directory.name}: {report.metric} per trial ({report.direction})")
    axis.set_xlabel("trial")
    axis.set_ylabel(report.metric)
    axis.grid(True, alpha=0.3)
    axis.legend(loc="best", fontsize="small")


def _draw_importances(axis: Any, importances: dict[str, float]) -> None:
    names = list(importances)[::-1]  # the most important on top
    axis.barh(names, [importances[n] for n in names], color="tab:blue")
    axis.set_xlabel("importance (PED-ANOVA, share of the variation among the better trials)")
    axis.grid(True, axis="x", alpha=0.3)
