"""Columnar formats, out-of-core training and the cache, as a user meets them on the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

CHURN = SAMPLES / "churn" / "churn.csv"


@pytest.fixture(scope="module")
def churn_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("churn")
    data = pcsv.read_csv(CHURN)
    paths = {"csv": CHURN, "parquet": directory / "churn.parquet", "feather": directory / "churn.feather"}
    pq.write_table(data, paths["parquet"])
    feather.write_feather(data, paths["feather"])
    return paths


def train(cli, data: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    result = cli(
        "train", "--data", data, "--target", "churned", "--epochs", "3", "--out", out, "--json", "--history", *extra
    )
    assert result.exit_code == 0, result
    return json.loads(result.stdout), result


def test_train_eval_and_predict_on_parquet_and_feather(cli, churn_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = {fmt: train(cli, path, tmp_path / fmt)[0] for fmt, path in churn_files.items()}
    assert results["parquet"]["metrics"] == pytest.approx(results["csv"]["metrics"], abs=1e-6)
    model = results["parquet"]["model"]
    evals = [json.loads(cli("eval", model, path, "--json").stdout)["metrics"] for path in churn_files.values()]
    assert evals[1] == pytest.approx(evals[0]) and evals[2] == pytest.approx(evals[0])
    out = tmp_path / "p.parquet"
    assert cli("predict", model, churn_files["feather"], "--output", out).exit_code == 0
    csv_text = cli("predict", model, churn_files["csv"]).stdout
    assert pq.read_table(out).column("churned").to_pylist() == csv_text.split()[1:]


def test_out_of_core_training_says_so_and_is_reproducible(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, result = train(cli, CHURN, tmp_path / "a", "--memory-limit", "2KB", "--seed", "4")
    assert "streamed from the cache (out of core)" in result.stderr
    second, _ = train(cli, CHURN, tmp_path / "b", "--memory-limit", "2KB", "--seed", "4")
    assert first["metrics"] == second["metrics"] and first["history"][-1]["loss"] == second["history"][-1]["loss"]
    a = cli("predict", first["model"], CHURN, "--proba").stdout
    assert a == cli("predict", second["model"], CHURN, "--proba").stdout


def test_a_bad_memory_limit_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", CHURN, "--target", "churned", "--memory-limit", "lots", "--out", tmp_path / "r")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "Error: --memory-limit must be a size such as 2GiB, 500MB or auto; got 'lots'."
    )


def test_npy_to_stdout_keeps_label_types(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    dlcli = Path(sys.executable).parent / "dlcli"
    raw = subprocess.run(
        [dlcli, "predict", iris_model, SAMPLES / "iris" / "iris.csv", "--format", "npy"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    labels = np.load(io.BytesIO(raw))
    assert labels.shape == (150,) and labels.dtype.kind == "U" and set(labels) <= {"setosa", "versicolor", "virginica"}


def test_cache_ls_and_clear(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DLCLI_CACHE_DIR", str(tmp_path / "cache"))
    train(cli, CHURN, tmp_path / "run")
    listing = json.loads(cli("cache", "ls", "--json").stdout)
    tables = [e for e in listing["entries"] if e["kind"] == "table"]
    assert len(tables) == 1 and tables[0]["source"] == str(CHURN) and tables[0]["rows"] == 600
    cleared = json.loads(cli("cache", "clear", "--json").stdout)
    assert cleared["removed_files"] == len(listing["entries"])
    assert json.loads(cli("cache", "--json").stdout)["entries"] == []
    bad = cli("cache", "purge")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: Unknown cache action 'purge'.")


def test_a_bad_cell_prints_no_header_to_stdout(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("sepal_length,sepal_width,petal_length,petal_width\n5,x,1,0.2\n")
    result = cli("predict", iris_model, bad)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {bad}, line 2: column 'sepal_width' must be numeric, found 'x'.")
