"""The run directory: model.h5, checkpoints/, history.jsonl, config.toml, metrics.json.

Without an explicit ``output.out``, runs go to ``runs/<name>-<n>`` with the first free
counter, so an earlier run is never overwritten.

A run's ``config.toml`` trains the run again from any working directory: its paths are
relative to the run directory, ``output.out`` is left empty and ``output.name`` holds the
run's name, so ``dlcli train runs/iris-1/config.toml`` writes a new run beside the old one
(``runs/iris-2``), never into it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcli import files, tomlwriter
from dlcli.config import Config, portable
from dlcli.errors import ConfigError, setting


@dataclass
class RunDirectory:
    path: Path

    @classmethod
    def create(cls, cfg: Config, force: bool = False) -> RunDirectory:
        if cfg.output.out:
            path = Path(cfg.output.out)
            if any((path / name).exists() for name in RUN_FILES):
                if not force:
                    raise ConfigError(
                        f"Run directory '{path}' already holds a run.",
                        hint=f"Choose another {setting('output.out')}, add {setting('force')} to replace it, or "
                        f"leave {setting('output.out')} unset for a fresh runs/<name>-N.",
                    )
                _clear_run(path)
        else:
            path = _next_free(_runs_root(cfg) / _run_name(cfg))
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def existing(cls, path: Path) -> RunDirectory:
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def model_path(self) -> Path:
        return self.path / "model.h5"

    def checkpoint_path(self, epoch: int | None, label: str = "") -> Path:
        name = f"epoch-{epoch:04d}.h5" if epoch is not None else f"{label}.h5"
        return self.path / "checkpoints" / name

    def write_config(self, cfg: Config) -> None:
        """``cfg`` as the run's config.toml: one that reproduces this run, not one that writes into it."""
        tables = portable(cfg, self.path)
        tables["output"] = {**tables["output"], "out": "", "name": run_name(cfg, self.path)}
        header = (
            f"# The resolved configuration of the run in this directory; paths are relative to it.\n"
            f"# 'dlcli train {self.path / 'config.toml'}' trains it again into a new run beside this one.\n\n"
        )
        files.write_text(self.path / "config.toml", header + tomlwriter.dumps(tables))

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        files.write_text(self.path / "metrics.json", json.dumps(metrics, indent=2) + "\n")

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        files.write_text(self.path / "history.jsonl", "".join(json.dumps(row) + "\n" for row in rows))

    def append_history(self, record: dict[str, Any]) -> None:
        with open(self.path / "history.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


RUN_FILES = ("model.h5", "history.jsonl", "config.toml", "metrics.json", "checkpoints")
# What makes a directory a tune directory (dlcli tune): its model.h5 is its best/ run's.
TUNE_SETTINGS = "tune.json"
TUNE_BEST_RUN = "best"


def _clear_run(path: Path) -> None:
    """Remove the files of an earlier run (only dlcli's own, nothing else in the directory)."""
    for name in RUN_FILES:
        target = path / name
        if target.is_dir():
            for child in target.glob("*.h5"):
                child.unlink()
        elif target.exists():
            target.unlink()


def _runs_root(cfg: Config) -> Path:
    """Where a run without --out goes: runs/ in the working directory, as git, make or Keras
    callbacks write where they are run (not into samples/ for samples/housing/dlcli.toml);
    a run's own config.toml trains into a new run beside it, never into it or under it."""
    if cfg.source and is_run_config(Path(cfg.source)):
        # normpath: the parent of "." (a config.toml in the working directory) is "..", not ".".
        return Path(os.path.normpath(Path(cfg.source).parent / ".."))
    return Path("runs")


def is_run_config(path: Path) -> bool:
    """Whether ``path`` is the config.toml a run wrote into its run directory."""
    return path.name == "config.toml" and any((path.parent / name).exists() for name in ("history.jsonl", "model.h5"))


def run_name(cfg: Config, path: Path) -> str:
    """The name a run's saved config gives its reruns: ``output.name``, else the name the run
    directory was numbered from (``iris`` for ``runs/iris-3``), else that of an explicit ``--out``."""
    if cfg.output.name or cfg.output.out:
        return cfg.output.name or path.name
    return re.sub(r"-\d+$", "", path.name) or path.name  # runs/<name>-<n>: see _next_free


def _run_name(cfg: Config) -> str:
    if cfg.output.name:
        return cfg.output.name
    if cfg.source and Path(cfg.source).stem != "dlcli":
        return Path(cfg.source).stem
    if cfg.data.path:
        return Path(cfg.data.path.rstrip("/")).stem or "run"
    return "run"


def _next_free(base: Path) -> Path:
    counter = 1
    while True:
        candidate = base.with_name(f"{base.name}-{counter}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            counter += 1
