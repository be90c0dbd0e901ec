"""What train says while and after it trains: why it stopped, the refit's progress, the units."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
HOUSING = ["--data", str(SAMPLES / "housing" / "housing.csv"), "--target", "price_k"]


def test_early_stopping_says_why_and_the_refit_shows_progress(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", *HOUSING, "--epochs", "400", "--patience", "3", "--out", tmp_path / "r")
    assert result.exit_code == 0, result
    lines = result.stderr.splitlines()
    stopped = next(line for line in lines if line.startswith("Stopped at epoch "))
    epoch, best = int(stopped.split()[3].rstrip(":")), int(stopped.rsplit(" ", 1)[1].rstrip("."))
    assert "val_loss has not improved for 3 epochs" in stopped and epoch == best + 3
    refit = [line for line in lines if line.startswith("refit epoch ")]
    assert [line.split()[2] for line in refit] == [f"{e}/{best}" for e in range(1, best + 1)]
    assert any("standardised target" in line and "price_k's own units" in line for line in lines)


def test_a_run_that_uses_its_whole_budget_says_so(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", *HOUSING, "--epochs", "3", "--out", tmp_path / "r", "--set", "train.refit=false")
    assert result.exit_code == 0, result
    assert any(line.startswith("Ran all 3 epochs (train.epochs); best epoch ") for line in result.stderr.splitlines())
    assert not any(line.startswith("refit epoch") for line in result.stderr.splitlines())
