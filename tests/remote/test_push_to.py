"""`train --push-to`: an unwritable remote fails before the first epoch; a final upload that
fails still prints the result and the command that finishes the upload."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.remote.conftest import free_port

IRIS = Path(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"
TRAIN = ("train", "--data", IRIS, "--target", "species", "--epochs", "3", "--set", "train.checkpoint_every=1")


def run(*args: object):  # type: ignore[no-untyped-def]
    from dlcli.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_an_unreachable_push_to_fails_before_any_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = run(*TRAIN, "--out", tmp_path / "run", "--push-to", "s3://bucket-x/runs", "--endpoint-url", endpoint)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: Cannot write to --push-to s3://bucket-x/runs, so training did not start: Cannot reach the S3 "
        f"endpoint for s3://bucket-x/runs (endpoint {endpoint}).",
        "Hint: Check --endpoint-url (or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).",
    ]
    assert result.stdout == "" and not (tmp_path / "run").exists()


@pytest.mark.s3
def test_a_missing_bucket_fails_before_any_epoch(moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    push_to = ("--push-to", "s3://no-such-bucket-z/runs", "--endpoint-url", moto_server.endpoint)
    result = run(*TRAIN, "--out", tmp_path / "run", *push_to)
    assert result.exit_code == 1 and "epoch" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: Cannot write to --push-to s3://no-such-bucket-z/runs, so training did not")
    assert "no-such-bucket-z" in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.s3
def test_a_failed_final_upload_prints_the_result_and_the_push_that_finishes_it(
    proxy, moto_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    # The background uploads of checkpoints and the probe pass; the final push of model.h5 is refused.
    proxy.add(lambda m, p, q: m == "PUT" and p == f"/{bucket}/runs/run/model.h5", "403", times=100)
    out = tmp_path / "run"
    result = run(*TRAIN, "--out", out, "--push-to", f"s3://{bucket}/runs", "--endpoint-url", proxy.url)
    assert result.exit_code == 1, result
    assert f"model\t{out / 'model.h5'}\n" in result.stdout and "\naccuracy\t" in result.stdout
    errors = result.stderr.splitlines()
    assert errors[-2] == f"Error: Training finished but 1 file(s) failed to upload to s3://{bucket}/runs/run."
    command = f"dlcli push {out} s3://{bucket}/runs/run --endpoint-url {proxy.url}"
    assert errors[-1] == f"Hint: The run is saved in {out}; finish the upload with: {command}"
    proxy.rules.clear()
    assert run(*shlex.split(command)[1:]).exit_code == 0  # the printed command, as the user would paste it
    keys = {o["Key"] for o in moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert "runs/run/model.h5" in keys and not [k for k in keys if "probe" in k]
