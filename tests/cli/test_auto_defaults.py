"""Defaults that follow the data size: patience in samples seen, refit only on small data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlcli.config import auto_patience, auto_refit
from dlcli.config.schema import PATIENCE_EPOCHS, REFIT_MAX_ROWS


@pytest.mark.parametrize(("rows", "epochs"), [(120, 100), (5_000, 100), (20_000, 25), (200_000, 10), (5_000_000, 10)])
def test_automatic_patience_is_shorter_on_more_rows(rows: int, epochs: int) -> None:
    assert auto_patience("auto", rows) == epochs
    assert PATIENCE_EPOCHS[0] <= epochs <= PATIENCE_EPOCHS[1]


def test_a_given_patience_or_refit_is_kept_whatever_the_size() -> None:
    assert auto_patience(7, 10**6) == 7 and auto_patience(0, 10) == 0
    assert auto_refit(True, 10**7) is True and auto_refit(False, 10) is False
    assert auto_refit("auto", REFIT_MAX_ROWS) is True and auto_refit("auto", REFIT_MAX_ROWS + 1) is False


def write_rows(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lines = ["a,b,c,label", *(f"{a:.3f},{b:.3f},{c:.3f},{t}" for (a, b, c), t in zip(X, y, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


def trained_as(cli, data: Path, out: Path, *flags: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", data, "--target", "label", "--epochs", "2", "--out", out, *flags)
    assert result.exit_code == 0, result
    return dict(line.split("\t", 1) for line in result.stdout.splitlines())["trained_as"]


def test_large_data_keeps_the_selection_model_unless_refit_is_asked_for(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = write_rows(tmp_path / "big.csv", REFIT_MAX_ROWS + 1000)
    assert trained_as(cli, big, tmp_path / "a").startswith("the selection run's model")
    assert trained_as(cli, big, tmp_path / "b", "--set", "train.refit=true").startswith("refit on all")
    small = write_rows(tmp_path / "small.csv", 300)
    assert trained_as(cli, small, tmp_path / "c").startswith("refit on all")
