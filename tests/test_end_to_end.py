"""The whole journey in real subprocesses: init → train → eval → predict → inspect, Ctrl-C → resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def dlcli(*args: object, cwd: Path, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DLCLI_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "dlcli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kwargs,
    )  # type: ignore[call-overload]
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_init_train_eval_predict_inspect(tmp_path: Path) -> None:
    data = SAMPLES / "churn" / "churn.csv"
    dlcli("init", "proj", "--data", data, "--target", "churned", cwd=tmp_path)
    project = tmp_path / "proj"
    trained = json.loads(dlcli("train", "--epochs", "40", "--json", cwd=project).stdout)
    model = Path(project / trained["model"]) if not Path(trained["model"]).is_absolute() else Path(trained["model"])
    assert model.exists() and model.parent.name == "churn-1"
    metrics = json.loads(dlcli("eval", model, data, "--json", cwd=project).stdout)["metrics"]
    assert metrics["accuracy"] > 0.6
    predictions = dlcli("predict", model, data, cwd=project).stdout.splitlines()
    assert predictions[0] == "churned" and set(predictions[1:]) <= {"yes", "no"} and len(predictions) == 601
    summary = json.loads(dlcli("inspect", model, "--json", cwd=project).stdout)
    assert summary["schema"]["task"] == "binary"
    piped = subprocess.run(
        f"head -5 {data} | {sys.executable} -m dlcli predict {model} --proba",
        shell=True,
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.splitlines()[0] == "no,yes" and len(piped.stdout.splitlines()) == 5


def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(tmp_path: Path) -> None:
    data = SAMPLES / "housing" / "housing.csv"
    common = ["--data", data, "--target", "price_k", "--epochs", "60", "--patience", "0", "--batch-size", "8"]
    dlcli("train", *common, "--out", tmp_path / "full", "--quiet", cwd=tmp_path)

    proc = subprocess.Popen(
        [sys.executable, "-m", "dlcli", "train", *map(str, common), "--out", str(tmp_path / "cut")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    history = tmp_path / "cut" / "history.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    checkpoint = tmp_path / "cut" / "checkpoints" / "interrupted.h5"
    assert checkpoint.exists()
    assert f"Hint: Resume with: dlcli train --resume {checkpoint}" in stderr

    dlcli("train", "--resume", checkpoint, "--quiet", cwd=tmp_path)
    import h5py

    with h5py.File(tmp_path / "full" / "model.h5") as a, h5py.File(tmp_path / "cut" / "model.h5") as b:
        names: list[str] = []
        a["model_weights"].visit(lambda n: names.append(n) if isinstance(a["model_weights"][n], h5py.Dataset) else None)
        assert names
        for name in names:
            assert np.array_equal(a["model_weights"][name][...], b["model_weights"][name][...]), name


@pytest.mark.parametrize("command", ["init", "train", "eval", "predict", "inspect", "push", "pull"])
def test_help_runs_in_a_subprocess(tmp_path: Path, command: str) -> None:
    result = dlcli(command, "--help", cwd=tmp_path)
    assert "Example: dlcli " in result.stdout
