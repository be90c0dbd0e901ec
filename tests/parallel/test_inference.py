"""Row-parallel predict and eval on real MPI ranks: one process's output and metrics, exactly."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from dlcli.parallel.launch import STDIO_VARIABLE, local_environment

from .conftest import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "samples" / "iris" / "iris.csv"
FORMATS = ("csv", "jsonl", "npy", "parquet")


def dlcli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dlcli", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def trained(out: Path, *args: str) -> Path:
    done = dlcli("train", *args, "--out", str(out), "--force", "--quiet", "--seed", "1")
    assert done.returncode == 0, done.stderr
    return out / "model.h5"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Models and inputs: iris (numeric, 3 classes) and 10,000 rows of numbers and categories."""
    root = tmp_path_factory.mktemp("inference")
    rng = np.random.default_rng(0)
    n = 10_000
    x1, x2 = rng.normal(size=n), rng.normal(3, 2, size=n)
    colour = rng.choice(["red", "green", "blue", "grey"], size=n)
    label = np.where(x1 + (colour == "red") - 0.2 * x2 + rng.normal(0, 0.5, n) > 0, "yes", "no")
    value = 3 * x1 - x2 + (colour == "blue") + rng.normal(0, 0.1, n)
    lines = ["x1,colour,x2,label,value"]
    for i in range(n):
        a = "" if i % 97 == 5 else f"{x1[i]:.6g}"  # some missing cells, filled by the schema
        c = "" if i % 89 == 3 else colour[i]
        lines.append(f"{a},{c},{x2[i]:.6g},{label[i]},{value[i]:.6g}")
    mixed = root / "mixed.csv"
    mixed.write_text("\n".join(lines) + "\n")
    regression_data = root / "regression.csv"  # the label column dropped: a regression table
    regression_data.write_text("\n".join(",".join(row.split(",")[:3] + row.split(",")[4:]) for row in lines) + "\n")
    iris_x = np.loadtxt(IRIS, delimiter=",", skiprows=1, usecols=range(4))
    iris_y = np.genfromtxt(IRIS, delimiter=",", skip_header=1, usecols=4, dtype=str)
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    pq.write_table(pcsv.read_csv(mixed), root / "mixed.parquet", row_group_size=3000)
    np.save(root / "iris.npy", iris_x)
    np.savez(root / "iris.npz", X=iris_x, y=iris_y)
    train = ["--epochs", "3", "--hidden", "16", "--val-split", "0.1"]
    return {
        "root": root,
        "iris_model": trained(root / "iris", "--data", str(IRIS), "--target", "species", *train),
        "mixed_model": trained(root / "binary", "--data", str(mixed), "--target", "label", *train),
        "regression_model": trained(root / "regression", "--data", str(regression_data), "--target", "value", *train),
        "iris": IRIS,
        "mixed": mixed,
        "mixed_parquet": root / "mixed.parquet",
        "regression": regression_data,
        "iris_npy": root / "iris.npy",
        "iris_npz": root / "iris.npz",
    }


def same_output(a: Path, b: Path, fmt: str) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(a).equals(pq.read_table(b))
    else:
        assert a.read_bytes() == b.read_bytes()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".part-" in p.name or p.name.startswith(".dlcli-tmp-"))


CASES = [
    ("iris_model", "iris", []),
    ("iris_model", "iris", ["--proba"]),
    ("mixed_model", "mixed", []),
    ("mixed_model", "mixed_parquet", []),
    ("regression_model", "mixed", []),  # the label column is there, and ignored
    ("iris_model", "iris_npy", []),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("model", "inputs", "flags"), CASES)
def test_two_ranks_write_the_single_process_output(
    ranks, data: dict[str, Path], tmp_path: Path, model: str, inputs: str, flags: list[str], fmt: str
) -> None:
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    common = ["predict", str(data[model]), str(data[inputs]), *flags, "--chunk-rows", "1000"]
    done = dlcli(*common, "-o", str(one))
    assert done.returncode == 0, done.stderr
    job = ranks(2, "-m", "dlcli", *common, "-o", str(two))
    assert job.returncode == 0, job.stderr
    assert job.stdout == "" and job.stderr == ""
    same_output(one, two, fmt)
    assert leftovers(tmp_path) == []


def binary_ranks(mpiexec: Path, n: int, args: list[str], cwd: Path) -> tuple[int, bytes, str]:
    """``run_ranks`` with stdout as bytes (NPY, Parquet)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile("w+") as err:
        env = local_environment(dict(os.environ))
        env[STDIO_VARIABLE] = f"{out.fileno()},{err.fileno()}"
        code = subprocess.run(
            [str(mpiexec), "-n", str(n), sys.executable, "-m", "dlcli", *args],
            cwd=cwd,
            env=env,
            pass_fds=(out.fileno(), err.fileno()),
            timeout=TIMEOUT,
            check=False,
        ).returncode
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


@pytest.mark.parametrize("fmt", FORMATS)
def test_three_ranks_stream_the_joined_output_to_stdout(
    mpiexec: Path, data: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    args = ["predict", str(data["mixed_model"]), str(data["mixed"]), "--format", fmt]
    one = subprocess.run([sys.executable, "-m", "dlcli", *args], capture_output=True, timeout=TIMEOUT, check=True)
    code, streamed, err = binary_ranks(mpiexec, 3, args, tmp_path)
    assert code == 0 and err == "", err
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(streamed)).equals(pq.read_table(io.BytesIO(one.stdout)))
    else:
        assert streamed == one.stdout
    assert leftovers(tmp_path) == []  # the parts went to the current directory, and are gone


def test_more_ranks_than_rows(ranks, data: dict[str, Path], tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("\n".join(IRIS.read_text().splitlines()[:2]) + "\n")
    for fmt in FORMATS:
        done = dlcli("predict", str(data["iris_model"]), str(tiny), "-o", str(tmp_path / f"one.{fmt}"))
        assert done.returncode == 0, done.stderr
        job = ranks(3, "-m", "dlcli", "predict", str(data["iris_model"]), str(tiny), "-o", str(tmp_path / f"two.{fmt}"))
        assert job.returncode == 0, job.stderr
        same_output(tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}", fmt)


@pytest.mark.parametrize(
    ("model", "inputs"),
    [("iris_model", "iris"), ("mixed_model", "mixed"), ("regression_model", "regression"), ("iris_model", "iris_npz")],
)
def test_two_ranks_evaluate_as_one_process(ranks, data: dict[str, Path], model: str, inputs: str) -> None:
    args = ["eval", str(data[model]), str(data[inputs]), "--json"]
    done = dlcli(*args)
    assert done.returncode == 0, done.stderr
    job = ranks(2, "-m", "dlcli", *args)
    assert job.returncode == 0, job.stderr
    one, two = json.loads(done.stdout), json.loads(job.stdout)  # one JSON document: rank 0's alone
    assert two["n_samples"] == one["n_samples"]
    assert two.get("confusion_matrix") == one.get("confusion_matrix")
    assert two.get("labels") == one.get("labels")
    assert two["metrics"].keys() == one["metrics"].keys()
    for name, value in one["metrics"].items():
        assert two["metrics"][name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    text = ranks(2, "-m", "dlcli", "eval", str(data[model]), str(data[inputs]))
    assert text.returncode == 0, text.stderr
    assert text.stdout == dlcli("eval", str(data[model]), str(data[inputs])).stdout


def broken(data: dict[str, Path], tmp_path: Path, kind: str) -> Path:
    lines = data["mixed"].read_text().splitlines()
    if kind == "missing-column":
        rows = [",".join(line.split(",")[1:]) for line in lines]  # no x1
    else:  # a word in a numeric column, near the end: in rank 1's rows
        rows = [*lines[:-3], "oops," + lines[-3].split(",", 1)[1], *lines[-2:]]
    path = tmp_path / "input" / f"{kind}.csv"
    path.parent.mkdir()
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("command", ["predict", "eval"])
@pytest.mark.parametrize("kind", ["missing-column", "bad-cell"])
def test_a_data_error_ends_every_rank_with_one_message(
    ranks, data: dict[str, Path], tmp_path: Path, kind: str, command: str
) -> None:
    bad = broken(data, tmp_path, kind)
    out = tmp_path / "out"
    out.mkdir()
    cache = tmp_path / "cache"
    args = [command, str(data["mixed_model"]), str(bad)] + (["-o", str(out / "p.csv")] if command == "predict" else [])
    alone = dlcli(*args, env={"DLCLI_CACHE_DIR": str(cache)})
    job = ranks(2, "-m", "dlcli", *args, env={"DLCLI_CACHE_DIR": str(cache)})
    assert job.returncode == alone.returncode == 2, job.stderr
    assert job.stderr.count("Error:") == 1, job.stderr
    assert job.stderr == alone.stderr  # the message a single process prints
    assert "Traceback" not in job.stderr and job.stdout == ""
    assert list(out.iterdir()) == []
    assert not cache.exists() or [p for p in cache.rglob("*") if p.is_file()] == []


def test_stdin_is_refused_under_mpiexec(ranks, data: dict[str, Path]) -> None:
    job = ranks(2, "-m", "dlcli", "predict", str(data["iris_model"]), "-")
    assert job.returncode == 2
    assert job.stderr.count("Error:") == 1 and "stdin" in job.stderr, job.stderr


def test_a_missing_model_ends_every_rank_once(ranks, tmp_path: Path) -> None:
    job = ranks(2, "-m", "dlcli", "eval", str(tmp_path / "nope.h5"), str(IRIS))
    alone = dlcli("eval", str(tmp_path / "nope.h5"), str(IRIS))
    assert job.returncode == alone.returncode == 2
    assert job.stderr == alone.stderr


def test_plain_predict_never_imports_mpi4py(data: dict[str, Path], tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from dlcli.cli.app import main\n"
        f"code = main(['predict', {str(data['iris_model'])!r}, {str(IRIS)!r}, '-o', {str(tmp_path / 'p.csv')!r}])\n"
        f"code += main(['eval', {str(data['iris_model'])!r}, {str(IRIS)!r}, '--json'])\n"
        "assert code == 0, code\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
        "from dlcli.parallel import Solo, current\n"
        "assert isinstance(current(), Solo)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.csv").is_file()
