"""CLI fixtures: run dlcli in-process with CliRunner, and a small trained model to share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def __repr__(self) -> str:
        return f"Result(exit={self.exit_code}, stdout={self.stdout[-500:]!r}, stderr={self.stderr[-1500:]!r})"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Invoke ``dlcli ARGS`` in-process; returns exit code, stdout and stderr separately."""
    from dlcli.cli.app import app

    monkeypatch.delenv("DLCLI_DEBUG", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickly trained iris model (shared: training is the slow part)."""
    from dlcli.config import load_config
    from dlcli.workflows.training import prepare_training

    out = tmp_path_factory.mktemp("iris") / "run"
    cfg = load_config(SAMPLES / "iris" / "dlcli.toml", {"train.epochs": 40, "output.out": str(out)}, environ={})
    run = prepare_training(cfg)
    for _ in run.records():
        pass
    run.finish()
    return out / "model.h5"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory holding copies of the samples."""
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("runs"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
