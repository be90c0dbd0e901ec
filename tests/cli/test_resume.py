"""--resume from the shell: from any directory, history without repeats, flags honoured or refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _epochs(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()]


def _kernels(path: Path) -> list[np.ndarray]:
    found: list[np.ndarray] = []
    with h5py.File(path, "r") as f:
        f["model_weights"].visititems(lambda name, obj: found.append(obj[()]) if name.endswith("kernel") else None)
    return found


@pytest.fixture
def run(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A 6-epoch iris run with a checkpoint every 2 epochs, data given by a relative path."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(SAMPLES / "iris" / "iris.csv", project / "iris.csv")
    monkeypatch.chdir(project)
    common = ("--target", "species", "--set", "train.checkpoint_every=2", "--set", "train.refit=false", "-q")
    assert cli("train", "--data", "iris.csv", "--epochs", "6", "--out", "run", *common).exit_code == 0
    return project / "run"


def test_resume_works_from_another_directory_and_cuts_history_to_the_checkpoint(cli, run, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    full = _kernels(run / "model.h5")
    result = cli("train", "--resume", run / "checkpoints" / "epoch-0002.h5", "-q")
    assert result.exit_code == 0, result
    assert _epochs(run) == [1, 2, 3, 4, 5, 6]  # not 1…6 then 3…6
    assert all(np.array_equal(a, b) for a, b in zip(_kernels(run / "model.h5"), full, strict=True))
    assert 'path = "../iris.csv"' in (run / "config.toml").read_text()  # relative to the run directory


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
def test_a_run_resumes_bit_for_bit_on_either_kernel_set(cli, run, kernels) -> None:  # type: ignore[no-untyped-def]
    # The compiled kernels and NumPy give identical bits: a checkpoint may continue on a machine
    # with or without the fast extra.
    full = _kernels(run / "model.h5")
    result = cli("train", "--resume", run / "checkpoints" / "epoch-0002.h5", "--set", f"train.kernels={kernels}", "-q")
    assert result.exit_code == 0, result
    assert all(np.array_equal(a, b) for a, b in zip(_kernels(run / "model.h5"), full, strict=True))


def test_resume_after_a_kill_drops_the_epochs_the_checkpoint_does_not_have(cli, run) -> None:  # type: ignore[no-untyped-def]
    history = run / "history.jsonl"
    history.write_text(history.read_text() + '{"epoch": 7, "loss": 1.0}\n{"epoch": 8, "lo')  # a torn last line
    assert cli("train", "--resume", run / "checkpoints" / "epoch-0006.h5", "-q").exit_code == 0
    assert _epochs(run) == [1, 2, 3, 4, 5, 6]


def test_epochs_extend_a_resumed_run(cli, run) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--resume", run / "checkpoints" / "epoch-0006.h5", "--epochs", "9", "-q")
    assert result.exit_code == 0, result
    assert _epochs(run) == list(range(1, 10))
    assert "epochs = 9" in (run / "config.toml").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ("--lr", "0.1"),
            "Error: --lr cannot change on --resume: a resumed run continues exactly as it was configured.",
        ),
        (
            ("--out", "other"),
            "Error: --out cannot change on --resume: a resumed run continues exactly as it was configured.",
        ),
        (
            ("--set", "train.weight_decay=0.1"),
            "Error: --set train.weight_decay=… cannot change on --resume: a resumed run continues exactly",
        ),
        (("--epochs", "4"), "Error: --epochs 4 is not more than the 6 epochs"),
        (("--force",), "Error: --resume takes its configuration from the checkpoint, so --force cannot go with it."),
    ],
)
def test_flags_that_would_change_a_resumed_run_are_refused_by_name(cli, run, flags, message) -> None:  # type: ignore[no-untyped-def]
    before = (run / "model.h5").read_bytes()
    result = cli("train", "--resume", run / "checkpoints" / "epoch-0006.h5", *flags)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert (run / "model.h5").read_bytes() == before and _epochs(run) == [1, 2, 3, 4, 5, 6]
