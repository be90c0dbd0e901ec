"""predict --keep and --threshold, and options refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

IRIS = Path(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A binary model on (x, churned) and rows to predict with a zero-padded ID column."""
    from typer.testing import CliRunner

    from dlcli.cli.app import app

    directory = tmp_path_factory.mktemp("binary")
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    data = directory / "train.csv"
    data.write_text("x,churned\n" + "".join(f"{v:.3f},{int(v > 0)}\n" for v in x))
    result = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--target", "churned", "--epochs", "30", "--out", str(directory / "r"), "-q"],
    )
    assert result.exit_code == 0, result.stderr
    rows = directory / "rows.csv"
    rows.write_text("id,x\n00017,-3\n00018,1\n,3\n")
    return directory / "r" / "model.h5", rows


def test_keep_passes_id_columns_through_as_written(cli, binary, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, rows = binary
    result = cli("predict", model, rows, "--keep", "id")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == ["id,churned", "00017,0", "00018,1", ",1"]
    jsonl = cli("predict", model, rows, "--keep", "id,x", "--proba", "--format", "jsonl")
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [(r["id"], r["x"]) for r in records] == [("00017", -3.0), ("00018", 1.0), (None, 3.0)]
    assert list(records[0]) == ["id", "x", "0", "1"]
    assert cli("predict", model, rows, "--keep", "id", "--output", tmp_path / "p.parquet").exit_code == 0
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column_names == ["id", "churned"] and table.column("id").to_pylist() == ["00017", "00018", None]


def test_threshold_moves_the_binary_decision(cli, binary) -> None:  # type: ignore[no-untyped-def]
    model, rows = binary
    proba = [float(line.split(",")[1]) for line in cli("predict", model, rows, "--proba").stdout.splitlines()[1:]]
    for threshold in (0.05, 0.5, 0.95):
        labels = cli("predict", model, rows, "--threshold", str(threshold)).stdout.splitlines()[1:]
        assert labels == [str(int(p >= threshold)) for p in proba]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--keep", "nope"), "Error: Column 'nope' given with --keep is not in {rows}."),
        (("--keep", "id", "--format", "npy"), "Error: --keep needs a format with named columns; NPY holds one array."),
        (("--keep", "churned"), "Error: --keep would repeat column(s) 'churned' in the output."),
        (("--threshold", "1.5"), "Error: --threshold must be between 0 and 1 (exclusive), got 1.5."),
        (("--threshold", "0.3", "--proba"), "Error: --threshold decides labels, so it cannot go with --proba."),
    ],
)
def test_options_that_cannot_work_are_refused_before_any_output(cli, binary, tmp_path: Path, args, message) -> None:  # type: ignore[no-untyped-def]
    model, rows = binary
    result = cli("predict", model, rows, *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == message.format(rows=rows)
    to_file = cli("predict", model, rows, *args, "--output", tmp_path / "p.csv")
    assert to_file.exit_code == 2 and not list(tmp_path.iterdir())


def test_threshold_needs_a_binary_model(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("predict", iris_model, IRIS, "--threshold", "0.2")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "Error: --threshold needs a binary model; this one is a multiclass model.\n"


def test_a_kept_column_that_is_also_a_numeric_input_keeps_whole_numbers_whole(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [f"{i},{i % 3}.5,{'ab'[i % 2]}" for i in range(40)]
    data = tmp_path / "d.csv"
    data.write_text("id,x,label\n" + "\n".join(rows) + "\n")
    assert (
        cli("train", "--data", data, "--target", "label", "--epochs", "2", "--out", tmp_path / "r", "-q").exit_code == 0
    )
    result = cli("predict", tmp_path / "r" / "model.h5", data, "--keep", "id")
    assert result.exit_code == 0, result
    assert [line.split(",")[0] for line in result.stdout.splitlines()[:3]] == ["id", "0", "1"]


@pytest.mark.parametrize("command", [["predict"], ["explain", "--rows"]])
def test_output_dash_is_stdout_not_a_file_named_dash(command, cli, iris_model: Path, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    dash = cli(command[0], iris_model, IRIS, *command[1:], "-o", "-")
    plain = cli(command[0], iris_model, IRIS, *command[1:])
    assert dash.exit_code == 0, dash
    assert dash.stdout == plain.stdout and dash.stdout.startswith(("species", "class"))
    assert list(tmp_path.iterdir()) == []
