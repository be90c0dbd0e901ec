"""Learning-rate schedules from the shell: --schedule and each schedule's own keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlcli.config import load_config
from dlcli.workflows.builders import build_schedule

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def rates(**train: object) -> list[float]:
    cfg = load_config(None, {f"train.{k}": v for k, v in train.items()})
    schedule = build_schedule(cfg, 1000)
    return [schedule.lr(e) for e in range(int(train.get("epochs", 300)))]


def test_step_drops_by_decay_factor_every_step_size_epochs(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ["train", "--data", SAMPLES / "iris" / "iris.csv", "--target", "species", "--epochs", "9", "-q"]
    args += ["--schedule", "step", "--set", "train.step_size=3", "--set", "train.decay_factor=0.25"]
    args += ["--set", "train.refit=false", "--out", tmp_path / "run"]
    result = cli(*args)
    assert result.exit_code == 0, result
    history = [json.loads(line)["lr"] for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history == pytest.approx([1e-3] * 3 + [2.5e-4] * 3 + [6.25e-5] * 3)


def test_the_default_step_halves_the_rate_each_quarter_of_the_run() -> None:
    # Not /10 every 10 epochs (1e-6 by epoch 31 of 300): three halvings over the whole budget.
    lr = rates(schedule="step", epochs=300)
    assert (lr[74], lr[75], lr[150], lr[299]) == pytest.approx((1e-3, 5e-4, 2.5e-4, 1.25e-4))


def test_exponential_cosine_and_plateau_read_their_own_keys() -> None:
    assert rates(schedule="exponential", decay_rate=0.5, epochs=3) == pytest.approx([1e-3, 5e-4, 2.5e-4])
    cosine = rates(schedule="cosine", epochs=10, warmup_epochs=2, min_lr=1e-4)
    assert cosine[0] == pytest.approx(5e-4) and cosine[-1] >= 1e-4 and min(cosine) >= 1e-4
    cfg = load_config(
        None, {"train.schedule": "reduce_on_plateau", "train.plateau_patience": 2, "train.decay_factor": 0.1}
    )
    plateau = build_schedule(cfg, 1000)
    for loss in (1.0, 1.0, 1.0):  # an improvement, then two epochs without
        plateau.on_epoch_end(loss)
    assert plateau.lr(3) == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("train.decay_factor=1.5", "train.decay_factor must be > 0 and < 1"),
        ("train.stepsize=3", "Did you mean 'train.step_size'"),
    ],
)
def test_bad_schedule_keys_are_named(cli, setting: str, message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", SAMPLES / "iris" / "iris.csv", "--target", "species", "--set", setting)
    assert result.exit_code == 2
    assert message in result.stderr
