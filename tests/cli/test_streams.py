"""Data from a stream (a FIFO, a process substitution) is read once, never waited on twice."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IRIS = SAMPLES / "iris" / "iris.csv"
TIMEOUT = 120


def _dlcli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlcli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DLCLI_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"}


def _feed(fifo: Path) -> threading.Thread:
    def write() -> None:
        with fifo.open("wb") as out:  # blocks until dlcli opens the FIFO
            out.write(IRIS.read_bytes())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_train_and_predict_read_a_fifo(tmp_path: Path, env: dict[str, str], iris_model: Path) -> None:
    fifo = tmp_path / "iris.csv"
    os.mkfifo(fifo)
    feeder = _feed(fifo)
    trained = _dlcli(
        ["train", "--data", str(fifo), "--target", "species", "--epochs", "2", "--out", "run"], tmp_path, env
    )
    assert trained.returncode == 0, trained.stderr
    feeder.join(5)
    assert (tmp_path / "run" / "model.h5").is_file()
    feeder = _feed(fifo)
    predicted = _dlcli(["predict", str(iris_model), str(fifo), "--output", "p.csv"], tmp_path, env)
    assert predicted.returncode == 0, predicted.stderr
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 151
    # The one-pass copies are gone with the processes that made them.
    assert not list((tmp_path / "cache" / "streams").iterdir())


def test_train_and_eval_read_a_process_substitution(tmp_path: Path, env: dict[str, str], iris_model: Path) -> None:
    python, iris = shlex.quote(sys.executable), shlex.quote(str(IRIS))
    script = (
        f"{python} -m dlcli train --data <(cat {iris}) --target species --epochs 2 --out run && "
        f"{python} -m dlcli eval {shlex.quote(str(iris_model))} <(cat {iris})"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout and (tmp_path / "run" / "model.h5").is_file()
