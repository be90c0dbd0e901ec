"""SIGKILL a training at seeded moments; the next command recovers and nothing is left behind.

After each kill, every final-named ``.h5`` must load (files appear only complete), then the
next command (``--resume`` from the newest checkpoint, or a fresh start when there is none)
must sweep every temporary file, leave a history without a repeated epoch, and end with a
model bit-identical to an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlcli.files import is_temporary
from dlcli.model_io import load_model

EPOCHS = 25
KILLS = 8  # bounded: one kill per trial
TIMEOUT = 120
TRAIN = ("--target", "y", "--set", "train.checkpoint_every=1", "--set", "train.refit=false", "--quiet")


def _dlcli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlcli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("kill")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 8))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lines = [",".join(f"f{i}" for i in range(8)) + ",y"]
    lines += [",".join(f"{v:.4f}" for v in row) + f",{t}" for row, t in zip(X, y, strict=True)]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return root, env


def _weights(path: Path) -> list[np.ndarray]:
    loaded = load_model(path)
    return [w for layer in loaded.model.layers for _, w in sorted(layer.get_weights())]


def _temporaries(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if is_temporary(p.name) or p.name.endswith(".tmp")]


def _newest_checkpoint(run: Path) -> Path | None:
    found = sorted((run / "checkpoints").glob("epoch-*.h5")) if (run / "checkpoints").is_dir() else []
    return found[-1] if found else None


def test_a_killed_training_recovers_bit_exactly_with_nothing_left(workspace: tuple[Path, dict[str, str]]) -> None:
    root, base_env = workspace
    env = {**base_env, "DLCLI_CACHE_DIR": str(root / "cache-ref")}
    started = time.perf_counter()
    done = _dlcli(["train", "--data", "data.csv", "--epochs", str(EPOCHS), "--out", "ref", *TRAIN], root, env)
    assert done.returncode == 0, done.stderr
    duration = time.perf_counter() - started
    reference = _weights(root / "ref" / "model.h5")
    moments = np.random.default_rng(12).uniform(0.2, duration, KILLS)
    outcomes = []
    for trial, moment in enumerate(moments):
        run, env = f"run-{trial}", {**base_env, "DLCLI_CACHE_DIR": str(root / f"cache-{trial}")}
        argv = [sys.executable, "-m", "dlcli", "train", "--data", "data.csv", "--epochs", str(EPOCHS), "--out", run]
        proc = subprocess.Popen([*argv, *TRAIN], cwd=root, env=env, stderr=subprocess.DEVNULL)
        time.sleep(float(moment))
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        run_dir = root / run
        # Right after the kill: whatever has a final name is complete.
        for path in run_dir.rglob("*.h5") if run_dir.is_dir() else []:
            if not is_temporary(path.name):
                load_model(path)
        left = _temporaries(root / run) + _temporaries(root / f"cache-{trial}")
        checkpoint = _newest_checkpoint(run_dir)
        if checkpoint is not None:
            nxt = _dlcli(["train", "--resume", str(checkpoint), "--quiet"], root, env)
        else:
            nxt = _dlcli(
                ["train", "--data", "data.csv", "--epochs", str(EPOCHS), "--out", run, "--force", *TRAIN], root, env
            )
        assert nxt.returncode == 0, f"moment {moment:.2f} s: {nxt.stderr}"
        assert _temporaries(run_dir) == [] and _temporaries(root / f"cache-{trial}") == [], f"moment {moment:.2f} s"
        epochs = [json.loads(line)["epoch"] for line in (run_dir / "history.jsonl").read_text().splitlines()]
        assert epochs == list(range(1, EPOCHS + 1)), f"moment {moment:.2f} s: {epochs}"
        for path in run_dir.rglob("*.h5"):
            load_model(path)
        same = all(np.array_equal(a, b) for a, b in zip(_weights(run_dir / "model.h5"), reference, strict=True))
        assert same, f"moment {moment:.2f} s: the resumed model differs from the uninterrupted one"
        outcomes.append((round(float(moment), 2), checkpoint.name if checkpoint else None, len(left)))
    print("kill moments (s), resumed from, temporaries left by the kill:", outcomes)
