"""train.keep_checkpoints: the last N periodic checkpoints stay, older ones go."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TRAIN = ["train", "--data", str(SAMPLES / "iris" / "iris.csv"), "--target", "species", "-q"]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_only_the_last_checkpoints_are_kept(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    result = cli(*TRAIN, "--epochs", "12", "--out", run, "--set", "train.checkpoint_every=2")
    assert result.exit_code == 0, result
    assert names(run / "checkpoints") == ["epoch-0008.h5", "epoch-0010.h5", "epoch-0012.h5", "selected.h5"]
    # The newest one still resumes.
    assert cli("train", "--resume", run / "checkpoints" / "epoch-0010.h5", "-q").exit_code == 0


def test_zero_keeps_every_checkpoint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    args = ["--epochs", "8", "--out", run, "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=0"]
    assert cli(*TRAIN, *args).exit_code == 0
    assert names(run / "checkpoints") == [f"epoch-{e:04d}.h5" for e in (2, 4, 6, 8)] + ["selected.h5"]


def test_pruned_checkpoints_are_not_upload_failures(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # With --push-to, a checkpoint removed before its background upload ran is superseded, not failed.
    run, remote = tmp_path / "run", tmp_path / "remote"
    args = ["--epochs", "12", "--out", run, "--push-to", remote, "--set", "train.checkpoint_every=1"]
    result = cli(*TRAIN, *args, "--set", "train.keep_checkpoints=1")
    assert result.exit_code == 0, result
    assert "failed" not in result.stderr
    assert names(run / "checkpoints") == ["epoch-0012.h5", "selected.h5"]
    last = "checkpoints/epoch-0012.h5"
    assert (remote / "run" / last).read_bytes() == (run / last).read_bytes()


def test_the_uploader_skips_a_checkpoint_deleted_before_its_turn(tmp_path: Path) -> None:
    from dlcli.remote.settings import SyncOptions
    from dlcli.remote.uploader import BackgroundUploader

    kept = tmp_path / "epoch-0002.h5"
    kept.write_bytes(b"kept")
    uploader = BackgroundUploader(str(tmp_path / "remote"), SyncOptions())
    uploader.submit(tmp_path / "epoch-0001.h5", "checkpoints/epoch-0001.h5")  # pruned: never there
    uploader.submit(kept, "checkpoints/epoch-0002.h5")
    report = uploader.close()
    assert report.failed == [] and report.uploaded == ["checkpoints/epoch-0002.h5"]
