"""Run directories read back: the listing of ``dlcli runs``, a comparison of two, a history.

A run directory is what :mod:`dlcli.workflows.rundir` writes: ``config.toml`` at the start,
``history.jsonl`` one line per epoch, ``model.h5`` and ``metrics.json`` at the end. Reading
one never raises for what is in it: a run that is still training or was killed lacks files
(*incomplete*), one whose files do not parse is *damaged*, and each says why, so one bad
directory never hides the others.

This module imports no NumPy, h5py or config at load time (every command's start imports it,
for the sort keys in ``dlcli runs --help``); the model file is opened only to count parameters.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlcli.errors import DlcliError, UsageError

OK, INCOMPLETE, DAMAGED = "ok", "incomplete", "damaged"

# The headline validation metric per kind of task, first found wins; all improve upwards.
# Without one (no validation rows, or no metrics.json yet) the best epoch's val_loss stands in.
MAIN_METRICS = {"classification": ("accuracy",), "regression": ("r2",)}


@dataclass
class RunInfo:
    """One run directory as ``dlcli runs`` shows it (``None``: not known from its files)."""

    name: str
    path: str
    status: str = OK
    problems: list[str] = field(default_factory=list)
    created: str | None = None
    task: str | None = None
    data: str | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    metric: str | None = None
    value: float | None = None
    params: int | None = None
    bytes: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def flag(self, status: str, problem: str) -> None:
        """Note a problem; damaged outranks incomplete."""
        self.problems.append(problem)
        if self.status != DAMAGED:
            self.status = status


def _order_none_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


# The sort keys of ``dlcli runs --sort``: key → (what it sorts by, best first?). The metric
# sorts best first; everything else ascending.
SORT_KEYS: dict[str, tuple[Callable[[RunInfo], Any], bool]] = {
    "name": (lambda r: r.name, False),
    "created": (lambda r: r.created, False),
    "task": (lambda r: r.task, False),
    "data": (lambda r: r.data, False),
    "epochs": (lambda r: r.epochs, False),
    "best_epoch": (lambda r: r.best_epoch, False),
    "metric": (lambda r: None if r.value is None else (-r.value if r.metric != "val_loss" else r.value), False),
    "params": (lambda r: r.params, False),
    "bytes": (lambda r: r.bytes, False),
    "status": (lambda r: r.status, False),
}


def list_runs(root: str | Path, sort: str = "created", reverse: bool = False) -> list[RunInfo]:
    """Every run directory directly under ``root`` (or ``root`` itself if it is one), sorted.

    Raises
    ------
    UsageError
        ``root`` does not exist or is not a directory, or ``sort`` is no sort key.
    """
    order = _sort_key(sort)
    base = Path(root)
    if not base.is_dir():
        what = "does not exist" if not base.exists() else "is not a directory"
        raise UsageError(f"Runs directory '{base}' {what}.", hint="Give the directory that holds the run directories.")
    candidates = [base] if is_run(base) else sorted(run for p in base.iterdir() if p.is_dir() for run in _runs_at(p))
    runs = [read_run(path) for path in candidates]
    return sorted(runs, key=lambda r: _order_none_last(order(r)), reverse=reverse)


def _sort_key(name: str) -> Callable[[RunInfo], Any]:
    if name not in SORT_KEYS:
        close = difflib.get_close_matches(name, list(SORT_KEYS), n=1)
        suggestion = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"Unknown sort key '{name}'.{suggestion} Expected one of: {', '.join(SORT_KEYS)}.")
    return SORT_KEYS[name][0]


def is_run(path: Path) -> bool:
    """Whether ``path`` holds any of a run directory's files (and is no tune directory)."""
    from .rundir import RUN_FILES, TUNE_SETTINGS  # here, not at the top: rundir imports the config schema

    return not (path / TUNE_SETTINGS).exists() and any((path / n).exists() for n in RUN_FILES if n != "checkpoints")


def _run_label(path: Path) -> str:
    """A run's name in tables: its directory's, with its tune directory's for a best run."""
    from .rundir import TUNE_SETTINGS

    if (path.parent / TUNE_SETTINGS).exists():
        return f"{path.parent.name}/{path.name}"
    return path.name or str(path)


def _runs_at(path: Path) -> list[Path]:
    """The run at ``path``: itself, or a tune directory's run of its best configuration."""
    from .rundir import TUNE_BEST_RUN, TUNE_SETTINGS

    if (path / TUNE_SETTINGS).exists():
        return [path / TUNE_BEST_RUN] if is_run(path / TUNE_BEST_RUN) else []
    return [path] if is_run(path) else []


def find_run(text: str, root: str | Path = "runs") -> Path:
    """The run directory ``text`` names: a path, else a name under ``root``."""
    for path in (Path(text), Path(root) / text):
        if path.is_dir() and is_run(path):
            return path
    raise UsageError(
        f"'{text}' is not a run directory (no config.toml, history.jsonl, model.h5 or metrics.json).",
        hint="Give a directory written by dlcli train; dlcli runs lists them.",
    )


def read_run(path: Path) -> RunInfo:
    """What ``path``'s files say about the run; missing or broken files become problems."""
    info = RunInfo(name=_run_label(path), path=str(path))
    info.config = _read_config(path, info)
    history = read_history(path, info)
    info.metrics = _read_metrics(path, info)
    summary = _read_model(path, info)
    metadata = (summary or {}).get("metadata") or {}
    data_section = _section(info.config, "data")
    task = data_section.get("task")
    info.task = task if task and task != "auto" else ((summary or {}).get("schema") or {}).get("task")
    info.data = metadata.get("data") or _run_relative(path, data_section.get("path"))
    info.epochs = metadata.get("epochs_run") or (len(history) if history else None)
    info.best_epoch = metadata.get("best_epoch") or _best_epoch(history, info.config)
    info.created = (summary or {}).get("created") or _newest_mtime(path)
    info.metric, info.value = _main_metric(info, history)
    return info


def read_history(path: Path, info: RunInfo | None = None) -> list[dict[str, Any]]:
    """``history.jsonl``'s rows up to the first that does not parse (noted in ``info``)."""
    file = path / "history.jsonl"
    note = info or RunInfo(name=path.name, path=str(path))
    if not file.is_file():
        note.flag(INCOMPLETE, "no history.jsonl")
        return []
    rows: list[dict[str, Any]] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        note.flag(DAMAGED, f"history.jsonl unreadable: {exc}")
        return []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
            note.flag(DAMAGED, f"history.jsonl line {number} is not an epoch record")
            break
        rows.append(row)
    return rows


def _read_config(path: Path, info: RunInfo) -> dict[str, Any]:
    file = path / "config.toml"
    if not file.is_file():
        info.flag(INCOMPLETE, "no config.toml")
        return {}
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        info.flag(DAMAGED, f"config.toml does not parse: {exc}")
        return {}


def _read_metrics(path: Path, info: RunInfo) -> dict[str, Any]:
    file = path / "metrics.json"
    if not file.is_file():
        info.flag(INCOMPLETE, "no metrics.json (training did not finish)")
        return {}
    try:
        metrics = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        info.flag(DAMAGED, f"metrics.json does not parse: {exc}")
        return {}
    if not isinstance(metrics, dict):
        info.flag(DAMAGED, "metrics.json is not an object")
        return {}
    return metrics


def _read_model(path: Path, info: RunInfo) -> dict[str, Any] | None:
    file = path / "model.h5"
    if not file.is_file():
        info.flag(INCOMPLETE, "no model.h5")
        return None
    info.bytes = file.stat().st_size
    from dlcli.model_io import read_summary

    try:
        summary: dict[str, Any] = read_summary(file)
    except DlcliError as exc:
        info.flag(DAMAGED, f"model.h5: {exc.message}")
        return None
    info.params = int(summary["params"])
    return summary


def _run_relative(run: Path, value: Any) -> str | None:
    """A path from a run's config.toml (written relative to the run directory) as an absolute one."""
    if not isinstance(value, str) or not value:
        return None
    if "://" in value or Path(value).is_absolute():
        return value
    return os.path.abspath(run / value)


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    section = config.get(name)
    return section if isinstance(section, dict) else {}


def _best_epoch(history: list[dict[str, Any]], config: dict[str, Any]) -> int | None:
    """The epoch whose monitored value was best (a run without model.h5 records none)."""
    monitor = str(_section(config, "train").get("monitor") or "val_loss")
    scored = [row for row in history if isinstance(row.get(monitor), int | float)]
    if not scored:
        return None
    from dlcli.nn.tasks import MAXIMIZED

    best = (max if monitor.removeprefix("val_") in MAXIMIZED else min)(scored, key=lambda row: row[monitor])
    return int(best["epoch"])


def _main_metric(info: RunInfo, history: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    kind = "regression" if info.task == "regression" else "classification"
    for name in MAIN_METRICS[kind]:
        if isinstance(info.metrics.get(name), int | float):
            return f"val_{name}", float(info.metrics[name])
    best = [row for row in history if row.get("epoch") == info.best_epoch]
    for name in (*(f"val_{n}" for n in MAIN_METRICS[kind]), "val_loss"):
        if best and isinstance(best[0].get(name), int | float):
            return name, float(best[0][name])
    return None, None


def _newest_mtime(path: Path) -> str | None:
    times = [p.stat().st_mtime for p in path.iterdir() if p.is_file()]
    return datetime.fromtimestamp(max(times), UTC).isoformat(timespec="seconds") if times else None


@dataclass
class Comparison:
    """Two runs side by side: their summaries, the config keys that differ, every metric."""

    a: RunInfo
    b: RunInfo
    config: list[tuple[str, Any, Any]]
    metrics: list[tuple[str, Any, Any]]

    def to_json(self) -> dict[str, Any]:
        def rows(items: list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
            return [{"key": k, "a": x, "b": y} for k, x, y in items]

        runs = {"a": self.a.to_json(), "b": self.b.to_json()}
        return {**runs, "config": rows(self.config), "metrics": rows(self.metrics)}


# What the comparison shows of each run besides its config and metrics, in this order.
COMPARED = ("status", "created", "task", "data", "epochs", "best_epoch", "params", "bytes")


def compare_runs(first: str, second: str, root: str | Path = "runs") -> Comparison:
    """Compare two runs, each a run directory path or a name under ``root``."""
    a, b = read_run(find_run(first, root)), read_run(find_run(second, root))
    flat_a, flat_b = _flatten(a.config), _flatten(b.config)
    # Paths in a run's config are relative to its own directory: equal data reads as equal.
    for flat, run in ((flat_a, a), (flat_b, b)):
        if "data.path" in flat and run.data:
            flat["data.path"] = run.data
    config = [(k, flat_a.get(k), flat_b.get(k)) for k in sorted({*flat_a, *flat_b}) if flat_a.get(k) != flat_b.get(k)]
    names = list(dict.fromkeys([*a.metrics, *b.metrics]))
    metrics = [(f"val_{k}", a.metrics.get(k), b.metrics.get(k)) for k in names]
    return Comparison(a, b, config, metrics)


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, values in config.items() if isinstance(values, dict) for k, v in values.items()}


def run_history(text: str) -> tuple[RunInfo, list[dict[str, Any]]]:
    """A finished or running run's summary and history, for ``dlcli plot``.

    Raises
    ------
    UsageError
        ``text`` is no run directory, or its history holds no epoch.
    """
    path = find_run(text)
    info = read_run(path)
    history = read_history(path)
    if not history:
        raise UsageError(
            f"Run '{path}' has no epochs in history.jsonl to plot.",
            hint="Plot a run that has trained at least one epoch.",
        )
    return info, history
