"""What predict, push and pull leave on disk or in a pipe: NPY dtypes, a closed pipe, file modes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IRIS = SAMPLES / "iris" / "iris.csv"
DLCLI = Path(sys.executable).parent / "dlcli"


@pytest.fixture(scope="module")
def integer_classes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model whose class labels are integers (0, 1, 2), and 30,000 rows to predict (NPY of
    240 KB: more than a pipe holds)."""
    directory = tmp_path_factory.mktemp("ints")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30_000, 2)).round(3)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    data = directory / "ints.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{t}\n" for (a, b), t in zip(X, y, strict=True)))
    trained = subprocess.run(
        [DLCLI, "train", "--data", data, "--target", "label", "--epochs", "1", "--out", directory / "run", "--quiet"],
        capture_output=True,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stderr
    return directory / "run" / "model.h5", data


def test_npy_file_of_string_labels_is_a_unicode_array(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("predict", iris_model, IRIS, "--format", "npy", "--output", tmp_path / "p.npy")
    assert result.exit_code == 0, result
    labels = np.load(tmp_path / "p.npy")
    assert labels.dtype.kind == "U" and labels.shape == (150,)
    assert set(labels) <= {"setosa", "versicolor", "virginica"} and labels[0] == "setosa"


def test_npy_of_integer_labels_keeps_an_integer_dtype(cli, integer_classes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = integer_classes
    assert cli("predict", model, data, "--output", tmp_path / "p.npy").exit_code == 0
    labels = np.load(tmp_path / "p.npy")
    assert labels.dtype == np.int64 and set(labels.tolist()) <= {0, 1, 2} and len(labels) == 30_000


@pytest.mark.parametrize("fmt", ["npy", "csv"])
def test_a_reader_that_stops_early_ends_predict_quietly(integer_classes, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """`dlcli predict … | head -c 100`: exit 0 and nothing on stderr, NPY as CSV."""
    model, data = integer_classes
    with subprocess.Popen(
        [DLCLI, "predict", model, data, "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert len(proc.stdout.read(100)) == 100
        proc.stdout.close()  # as head does after 100 bytes
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 0 and stderr == b""


@pytest.fixture
def umask_002() -> Iterator[None]:
    old = os.umask(0o002)  # group-writable, as on a shared project directory
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_002")
def test_predict_push_and_pull_files_follow_the_umask(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("p.csv", "p.npy"):
        assert cli("predict", iris_model, IRIS, "--output", tmp_path / name).exit_code == 0
    assert cli("push", iris_model.parent, tmp_path / "shared", "--quiet").exit_code == 0
    assert cli("pull", tmp_path / "shared", tmp_path / "pulled", "--quiet").exit_code == 0
    written = [tmp_path / "p.csv", tmp_path / "p.npy"]
    written += [p for folder in ("shared", "pulled") for p in (tmp_path / folder).rglob("*") if p.is_file()]
    assert len(written) > 6
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in written} == {str(p): "0o664" for p in written}
