"""`dlcli init --data s3://…`: fitted through the cache, as `train --data s3://…` reads it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

IRIS = Path(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"


@pytest.mark.s3
def test_init_fits_a_config_to_s3_data_that_train_then_reads(
    moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from dlcli.cli.app import app

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    bucket = moto_server.new_bucket()
    moto_server.client().upload_file(str(IRIS), bucket, "data/iris.csv")
    url, endpoint = f"s3://{bucket}/data/iris.csv", ("--endpoint-url", moto_server.endpoint)
    runner = CliRunner()
    result = runner.invoke(app, ["init", "p", "--data", url, "--target", "species", *endpoint], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = tomllib.loads(Path("p/dlcli.toml").read_text())["data"]
    assert (data["path"], data["target"], data["task"]) == (url, "species", "multiclass")
    trained = runner.invoke(app, ["train", "p/dlcli.toml", "--epochs", "1", "-q", *endpoint], catch_exceptions=False)
    assert trained.exit_code == 0, trained.stderr
