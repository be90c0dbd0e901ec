"""What the encoding would hide is said on stderr: ID-like columns and missing cells (init,
train), unseen categories and missing cells met by predict."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def customers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 rows: an ID per row, 12 missing ages, 8 missing cities."""
    rng = np.random.default_rng(1)
    lines = ["customer_id,age,city,income,churned"]
    for i in range(300):
        age = "" if i % 25 == 0 else str(int(rng.integers(18, 80)))
        city = "" if i % 40 == 0 else str(rng.choice(["paris", "lyon", "nice"]))
        lines.append(f"C{i:05d},{age},{city},{rng.normal(50, 10):.1f},{int(rng.random() > 0.5)}")
    path = tmp_path_factory.mktemp("customers") / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_init_reports_an_id_column_and_missing_cells_and_suggests_ignore(cli, customers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", tmp_path / "p", "--data", customers, "--target", "churned")
    assert result.exit_code == 0, result
    assert result.stderr.splitlines()[:3] == [
        "Warning: Column 'customer_id' looks like an ID: 300 distinct values in the 300 rows, one-hot encoded "
        "into as many inputs, which teach the model nothing.",
        'Hint: Leave it out: add ignore = ["customer_id"] under [data] in dlcli.toml.',
        "Warning: Missing cells in the 300 rows: age 12 (filled with the training mean), city 8 (encoded as no "
        "category).",
    ]
    text = (tmp_path / "p" / "dlcli.toml").read_text()
    assert '# ID-like (a distinct value per row): customer_id; suggested: ignore = ["customer_id"]' in text
    # Following the suggestion: the ID is gone, and so is the warning.
    config = tmp_path / "p" / "dlcli.toml"
    config.write_text(text.replace("ignore = []", 'ignore = ["customer_id"]', 1))
    assert tomllib.loads(config.read_text())["data"]["ignore"] == ["customer_id"]
    trained = cli("train", config, "--epochs", "2", "--out", tmp_path / "run", "--quiet")
    assert trained.exit_code == 0, trained
    assert (
        "looks like an ID" not in trained.stderr and "Warning: Missing cells in the 240 training rows" in trained.stderr
    )


def test_train_reports_them_with_the_setting_that_leaves_the_id_out(cli, customers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", customers, "--target", "churned", "--epochs", "2", "--out", tmp_path / "r", "-q")
    assert result.exit_code == 0, result
    assert result.stderr.splitlines() == [
        "Warning: Column 'customer_id' looks like an ID: 240 distinct values in the 240 training rows, one-hot "
        "encoded into as many inputs, which teach the model nothing.",
        "Hint: Leave it out with --set data.ignore=customer_id.",
        "Warning: Missing cells in the 240 training rows: age 8 (filled with the training mean), city 7 (encoded "
        "as no category).",
    ]
    again = cli("train", "--data", customers, "--target", "churned", "--epochs", "2", "--out", tmp_path / "r2", "-q",
                "--set", "data.ignore=customer_id")  # fmt: skip
    assert again.exit_code == 0 and "looks like an ID" not in again.stderr


def test_predict_warns_once_with_counts_of_unseen_categories_and_missing_cells(
    cli, customers: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("train", "--data", customers, "--target", "churned", "--epochs", "2", "--out", tmp_path / "r", "-q",
               "--set", "data.ignore=customer_id").exit_code == 0  # fmt: skip
    new = tmp_path / "new.csv"
    new.write_text("customer_id,age,city,income\nX1,,paris,30\nX2,40,berlin,\nX3,50,,20\nX4,33,rome,1\n")
    result = cli("predict", tmp_path / "r" / "model.h5", new, "--chunk-rows", "1")
    assert result.exit_code == 0, result
    assert len(result.stdout.splitlines()) == 5
    assert result.stderr.splitlines() == [
        "Warning: In 4 rows, missing cells: age 1 (filled with the training mean), city 1 (encoded as no "
        "category), income 1 (filled with the training mean); categories unseen in training, encoded as none: "
        "city 2."
    ]
    clean = tmp_path / "clean.csv"
    clean.write_text("age,city,income\n40,paris,30\n")
    quiet = cli("predict", tmp_path / "r" / "model.h5", clean)
    assert quiet.exit_code == 0 and quiet.stderr == ""
