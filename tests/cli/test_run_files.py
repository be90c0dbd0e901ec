"""A run directory as a user reads it back: its config.toml trains it again, and train and
inspect say what model.h5 is and which model the metrics measure."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FAST = ("--epochs", "3", "--set", "train.checkpoint_every=0", "--quiet", "--json")


@pytest.fixture
def first_run(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(SAMPLES / "iris" / "iris.csv", project / "iris.csv")
    monkeypatch.chdir(project)
    result = cli("train", "--data", "iris.csv", "--target", "species", *FAST)
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["run_dir"] == "runs/iris-1"
    return project / "runs" / "iris-1"


def test_a_runs_config_trains_it_again_from_any_directory_into_a_new_run(
    cli, first_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    saved = tomllib.loads((first_run / "config.toml").read_text())
    assert saved["data"]["path"] == "../../iris.csv" and saved["output"] == {"out": "", "name": "iris"}
    before = {p.name: p.read_bytes() for p in first_run.iterdir() if p.is_file()}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = cli("train", first_run / "config.toml", *FAST[-2:])
    assert again.exit_code == 0, again
    rerun = json.loads(again.stdout)
    assert rerun["run_dir"] == str(first_run.parent / "iris-2")
    assert rerun["metrics"] == json.loads((first_run / "metrics.json").read_text())  # the same run, reproduced
    monkeypatch.chdir(first_run)  # from inside the run directory, by its plain name
    inside = cli("train", "config.toml", *FAST[-2:])
    assert inside.exit_code == 0, inside
    assert json.loads(inside.stdout)["run_dir"] == "../iris-3"
    assert {p.name: p.read_bytes() for p in first_run.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in first_run.iterdir()) == ["checkpoints", *sorted(before)]


def test_inspect_and_train_say_the_model_is_the_refit_and_the_metrics_the_selection_run(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    lines = dict(line.split("\t", 1) for line in cli("inspect", iris_model).stdout.splitlines() if "\t" in line)
    best = lines["best_epoch"]
    assert lines["trained_as"] == (
        f"refit on all 150 rows (training + validation) for {best} epochs, the selection run's best epoch count"
    )
    assert lines["metrics_from"] == (
        f"the selection run's model (best epoch {best} of 40) on the 30 validation rows, which it never trained "
        "on; the refit model has no held-out rows to score"
    )
    described = json.loads(cli("inspect", iris_model, "--json").stdout)
    assert described["trained_as"] == lines["trained_as"] and described["metrics_from"] == lines["metrics_from"]
    assert "model.h5 is refit on all rows for E epochs" in " ".join(cli("train", "--help").stdout.split())


def test_without_refit_the_model_is_the_selection_runs_best_epoch(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    iris = SAMPLES / "iris" / "iris.csv"
    result = cli(
        "train",
        "--data",
        iris,
        "--target",
        "species",
        "--out",
        tmp_path / "r",
        "--epochs",
        "5",
        "--set",
        "train.refit=false",
    )
    assert result.exit_code == 0, result
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    assert lines["trained_as"].startswith("the selection run's model (best epoch ")
    assert lines["trained_as"].endswith("), trained on the training rows only")
