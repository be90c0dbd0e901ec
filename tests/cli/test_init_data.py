"""init on the data a user has: another delimiter, NPZ arrays (s3:// is in tests/remote)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

IRIS = Path(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolons.csv"), ("\t", "tabs.csv")])
def test_a_delimiter_in_the_header_line_is_sniffed_and_written_into_the_config(
    cli, tmp_path: Path, delimiter: str, name: str
) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / name
    data.write_text(IRIS.read_text().replace(",", delimiter))
    result = cli("init", tmp_path / "p", "--data", data, "--target", "species", "--json")
    assert result.exit_code == 0, result
    config = tmp_path / "p" / "dlcli.toml"
    assert tomllib.loads(config.read_text())["data"]["delimiter"] == delimiter
    trained = cli("train", config, "--epochs", "2", "--out", tmp_path / "run", "--quiet")
    assert trained.exit_code == 0, trained
    # predict and eval read the same file without being told (the header line shows it).
    predicted = cli("predict", tmp_path / "run" / "model.h5", data)
    assert predicted.exit_code == 0 and len(predicted.stdout.splitlines()) == 151, predicted


def test_another_delimiter_is_given_with_delimiter_and_a_one_column_header_says_so(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "colons.csv"
    data.write_text(IRIS.read_text().replace(",", ":"))
    refused = cli("init", tmp_path / "p", "--data", data, "--target", "species")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"Error: Column 'species' given as the target is not in {data}.",
        "Hint: The header was read as one column, 'sepal_length:sepal_width:petal_length:petal_width:species': "
        "pass its delimiter with --delimiter CHAR.",
    ]
    assert not (tmp_path / "p").exists()
    result = cli("init", tmp_path / "p", "--data", data, "--target", "species", "--delimiter", ":")
    assert result.exit_code == 0, result
    assert tomllib.loads((tmp_path / "p" / "dlcli.toml").read_text())["data"]["delimiter"] == ":"
    trained = cli("train", "--data", data, "--target", "species", "--delimiter", ":", "--epochs", "1",
                  "--out", tmp_path / "r", "-q")  # fmt: skip
    assert trained.exit_code == 0, trained
    bad = cli("init", tmp_path / "q", "--data", data, "--target", "species", "--delimiter", "ab")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: --delimiter must be one character other than a line break or a quote")


def test_init_on_npz_takes_no_target_and_refuses_one(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(int))
    result = cli("init", tmp_path / "p", "--data", tmp_path / "d.npz")
    assert result.exit_code == 0, result
    data = tomllib.loads((tmp_path / "p" / "dlcli.toml").read_text())["data"]
    assert (data["path"], data["target"], data["task"]) == ("../d.npz", "", "binary")
    assert cli("train", tmp_path / "p" / "dlcli.toml", "--epochs", "1", "--quiet").exit_code == 0
    refused = cli("init", tmp_path / "q", "--data", tmp_path / "d.npz", "--target", "label")
    assert refused.exit_code == 2 and refused.stderr.splitlines() == [
        f"Error: --target names a table column, but {tmp_path / 'd.npz'} is an array file: its target is its y array.",
        "Hint: Leave out --target.",
    ]
