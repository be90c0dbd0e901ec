"""The run directory: model.h5, checkpoints/, history.jsonl, config.toml, metrics.json.

Without an explicit ``output.out``, runs go to ``runs/<name>-<n>`` with the first free
counter, so an earlier run is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcli import files
from dlcli.config import Config
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

    def write_config(self, text: str) -> None:
        files.write_text(self.path / "config.toml", text)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        files.write_text(self.path / "metrics.json", json.dumps(metrics, indent=2) + "\n")

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        files.write_text(self.path / "history.jsonl", "".join(json.dumps(row) + "\n" for row in rows))

    def append_history(self, record: dict[str, Any]) -> None:
        with open(self.path / "history.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


RUN_FILES = ("model.h5", "history.jsonl", "config.toml", "metrics.json", "checkpoints")


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
    return Path(cfg.source).parent / "runs" if cfg.source else Path("runs")


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
