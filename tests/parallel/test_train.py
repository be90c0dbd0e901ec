"""Data-parallel training on real MPI ranks: equivalence with one process, resume, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from dlcli.parallel.launch import STDIO_VARIABLE, local_environment

from .conftest import TIMEOUT, run_ranks

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "samples" / "iris" / "dlcli.toml"


def weights(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.ndim >= 1:
                found[name] = obj[()]

        f["model_weights"].visititems(visit)
    assert found, "no weights found"
    return found


def max_difference(a: Path, b: Path) -> float:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return max(float(np.abs(wa[k].astype(np.float64) - wb[k]).max()) for k in wa)


def train(tmp_path: Path, name: str, *flags: str, workers: int = 1) -> dict:
    out = tmp_path / name
    cmd = [sys.executable, "-m", "dlcli", "train", str(IRIS), "--out", str(out), "--json", "--history", *flags]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("label", "flags", "tolerance"),
    [
        ("float32", [], 1e-5),
        ("float64", ["--set", "model.dtype=float64"], 1e-10),
        ("batchnorm", ["--set", "model.batch_norm=true", "--set", "model.dtype=float64"], 1e-10),
        ("out-of-core", ["--memory-limit", "1KiB", "--set", "model.dtype=float64"], 1e-10),
    ],
)
def test_two_ranks_train_the_single_process_model(
    mpiexec: Path, tmp_path: Path, label: str, flags: list[str], tolerance: float
) -> None:
    common = ["--epochs", "8", "--dropout", "0", "--batch-size", "25", *flags]  # 120 rows: a 20-row last batch
    one = train(tmp_path, "one", *common)
    two = train(tmp_path, "two", *common, workers=2)
    assert max_difference(Path(one["model"]), Path(two["model"])) < tolerance
    # Validation over both ranks' shards, reduced: the single-process values.
    for a, b in zip(one["history"], two["history"], strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5, abs=1e-6)
        assert a["val_accuracy"] == b["val_accuracy"]
    assert one["metrics"]["accuracy"] == two["metrics"]["accuracy"]
    # Rank 0 alone wrote the run directory.
    run = Path(two["run_dir"])
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in Path(one["run_dir"]).iterdir())


def test_dropout_masks_per_rank_are_reproducible(mpiexec: Path, tmp_path: Path) -> None:
    first = train(tmp_path, "a", "--epochs", "4", "--dropout", "0.3", workers=2)
    second = train(tmp_path, "b", "--epochs", "4", "--dropout", "0.3", workers=2)
    assert max_difference(Path(first["model"]), Path(second["model"])) == 0.0
    alone = train(tmp_path, "c", "--epochs", "4", "--dropout", "0.3")
    assert max_difference(Path(first["model"]), Path(alone["model"])) > 0.0  # each rank draws its own masks


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 12))
    y = np.where(X[:, 0] + X[:, 1] * X[:, 2] > 0, "yes", "no")
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(12)) + ",label\n")
        for row, label in zip(X, y, strict=True):
            f.write(",".join(f"{v:.5f}" for v in row) + f",{label}\n")
    return path


def launch(mpiexec: Path, n: int, args: list[str], cwd: Path, out: Path, err: Path) -> subprocess.Popen[bytes]:
    env = local_environment()
    o, e = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    env[STDIO_VARIABLE] = f"{o},{e}"
    try:
        return subprocess.Popen(
            [str(mpiexec), "-n", str(n), sys.executable, "-m", "dlcli", *args], cwd=cwd, env=env, pass_fds=(o, e)
        )
    finally:
        os.close(o)
        os.close(e)


def test_ctrl_c_saves_one_checkpoint_that_resumes_bit_exactly(mpiexec: Path, tmp_path: Path, big_csv: Path) -> None:
    flags = ["--data", str(big_csv), "--target", "label", "--epochs", "6", "--batch-size", "64", "--hidden", "64,32"]
    full = run_ranks(mpiexec, 2, ["-m", "dlcli", "train", *flags, "--out", "full", "--json", "--history"], cwd=tmp_path)
    assert full.returncode == 0, full.stderr

    job = launch(mpiexec, 2, ["train", *flags, "--out", "cut"], tmp_path, tmp_path / "cut.out", tmp_path / "cut.err")
    history = tmp_path / "cut" / "history.jsonl"
    deadline = time.monotonic() + TIMEOUT
    while not (history.exists() and history.read_text().strip()) and time.monotonic() < deadline:
        assert job.poll() is None, (tmp_path / "cut.err").read_text()
        time.sleep(0.05)
    job.send_signal(signal.SIGINT)  # the launcher forwards it to every rank
    assert job.wait(timeout=TIMEOUT) == 130
    err = (tmp_path / "cut.err").read_text()
    assert err.count("Training interrupted") == 1, err
    assert "mpiexec -n 2 dlcli train --resume" in err
    checkpoint = tmp_path / "cut" / "checkpoints" / "interrupted.h5"
    assert checkpoint.exists()

    alone = subprocess.run(
        [sys.executable, "-m", "dlcli", "train", "--resume", str(checkpoint)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert alone.returncode == 2
    assert "2 MPI ranks" in alone.stderr and "Traceback" not in alone.stderr

    resumed = run_ranks(
        mpiexec, 2, ["-m", "dlcli", "train", "--resume", str(checkpoint), "--json", "--history"], cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(full.stdout), json.loads(resumed.stdout)
    assert max_difference(tmp_path / a["model"], tmp_path / b["model"]) == 0.0
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]


def test_a_diverging_run_ends_every_rank_with_one_error(mpiexec: Path, tmp_path: Path) -> None:
    done = run_ranks(
        mpiexec,
        2,
        ["-m", "dlcli", "train", str(IRIS), "--out", "nan", "--lr", "1e30", "--optimizer", "sgd", "--epochs", "5"],
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("Error:") == 1, done.stderr
    assert "became" in done.stderr and "Traceback" not in done.stderr


FAILING_RANK = """
import sys
import numpy as np
from dlcli.cli.app import _adopt_rank_stdio
_adopt_rank_stdio()  # write where the test reads, as a dlcli command does
from dlcli.data.batches import ArrayBatchSource
from dlcli.errors import DataError, RankError
from dlcli.nn import BatchNormalization, Dense, Sequential, get_optimizer, get_schedule
from dlcli.parallel import current
from dlcli.train import Trainer

world = current()

class Failing(ArrayBatchSource):
    def shard(self, rank, size):
        part = super().shard(rank, size)
        if rank == 1:
            epoch = part.epoch
            def broken(rng, batch_size):
                e = epoch(rng, batch_size)
                batches = e.batches
                def failing(start=0):
                    for b, batch in enumerate(batches(start), start=start):
                        if b == 3:
                            raise DataError("row 7 is broken")
                        yield batch
                e.batches = failing
                return e
            part.epoch = broken
        return part

rng = np.random.default_rng(0)
X, y = rng.normal(size=(300, 4)), rng.integers(0, 2, 300)
model = Sequential([Dense(8, activation="relu"), BatchNormalization(), Dense(2, activation="softmax")],
                   input_dim=4, loss="sparse_categorical_crossentropy").build(np.random.default_rng(1))
trainer = Trainer(model, get_optimizer("adam"), get_schedule("constant", lr=0.01), epochs=2, batch_size=32,
                  rng=np.random.default_rng(2), task="multiclass", group=world)
try:
    list(trainer.fit(Failing(X, y)))
except RankError as exc:
    with open(f"rank{world.rank}.txt", "w") as f:
        f.write(f"rank {world.rank} stopped at step {trainer.state_dict()['step']}: {exc} (exit {exc.exit_code})")
    sys.exit(exc.exit_code)
print("no error")
"""


def test_an_error_on_one_rank_stops_every_rank_at_the_same_step(mpiexec: Path, tmp_path: Path) -> None:
    done = run_ranks(mpiexec, 2, ["-c", FAILING_RANK], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [(tmp_path / f"rank{r}.txt").read_text() for r in range(2)]
    assert lines == [
        "rank 0 stopped at step 3: rank 1: row 7 is broken (exit 2)",
        "rank 1 stopped at step 3: rank 1: row 7 is broken (exit 2)",
    ]


def test_plain_training_never_imports_mpi(tmp_path: Path) -> None:
    code = (
        "import sys; from dlcli.cli.app import main; "
        f"rc = main(['train', {str(IRIS)!r}, '--out', 'plain', '--epochs', '1', '-q']); "
        "print(rc, 'mpi4py' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr


def test_workers_under_mpiexec_is_refused(mpiexec: Path, tmp_path: Path) -> None:
    done = run_ranks(mpiexec, 2, ["-m", "dlcli", "train", str(IRIS), "--workers", "2"], cwd=tmp_path)
    assert done.returncode == 2
    assert "already one of an MPI job" in done.stderr
