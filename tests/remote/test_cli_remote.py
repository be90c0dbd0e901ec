"""push/pull/train/eval/predict through the CLI app (CliRunner), against local and moto remotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def run(*args: str):  # type: ignore[no-untyped-def]
    from dlcli.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_push_pull_json_local(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    result = run("push", tmp_path / "src", tmp_path / "remote", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["uploaded"] == ["a.txt"]
    again = json.loads(run("push", tmp_path / "src", tmp_path / "remote", "--json").stdout)
    assert again["uploaded"] == [] and again["skipped"] == ["a.txt"]
    pulled = run("pull", tmp_path / "remote", tmp_path / "out", "--json")
    assert json.loads(pulled.stdout)["downloaded"] == ["a.txt"] and (tmp_path / "out" / "a.txt").read_text() == "a"


def test_push_without_dest_or_config_is_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    result = run("push", tmp_path / "a.txt")
    assert result.exit_code == 2
    assert "Error: No DEST given for push" in result.stderr and "Hint:" in result.stderr


def test_push_uses_remote_url_from_config(tmp_path: Path) -> None:
    (tmp_path / "dlcli.toml").write_text(f'[remote]\nurl = "{tmp_path / "cfg-remote"}"\n')
    (tmp_path / "a.txt").write_text("a")
    assert run("push", tmp_path / "a.txt").exit_code == 0
    assert (tmp_path / "cfg-remote" / "a.txt").read_text() == "a"


def test_bad_scheme_and_unreachable_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.remote.conftest import free_port

    (tmp_path / "a.txt").write_text("a")
    assert run("push", tmp_path / "a.txt", "gs://b/p").exit_code == 2
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    result = run("push", tmp_path / "a.txt", "s3://bucket-x/p", "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1 and "--endpoint-url" in result.stderr and "s3://bucket-x" in result.stderr


def test_train_push_to_local_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    result = run(
        "train",
        "--data",
        SAMPLES / "iris" / "iris.csv",
        "--target",
        "species",
        "--epochs",
        "3",
        "--out",
        tmp_path / "run",
        "--push-to",
        remote,
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "train.refit=false",
        "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    # Checkpoints uploaded during training and the final push land under the same run prefix.
    pushed = sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file())
    local = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert pushed == local
    assert "run/checkpoints/epoch-0003.h5" in pushed


@pytest.mark.s3
def test_eval_and_predict_on_s3_model_via_cache(moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    trained = run(
        "train",
        "--data",
        SAMPLES / "iris" / "iris.csv",
        "--target",
        "species",
        "--epochs",
        "3",
        "--out",
        tmp_path / "run",
        "--quiet",
    )
    assert trained.exit_code == 0, trained.stderr
    bucket = moto_server.new_bucket()
    endpoint = ("--endpoint-url", moto_server.endpoint)
    assert run("push", tmp_path / "run" / "model.h5", f"s3://{bucket}/models", *endpoint).exit_code == 0
    model = f"s3://{bucket}/models/model.h5"
    result = run("eval", model, SAMPLES / "iris" / "iris.csv", "--json", *endpoint)
    assert result.exit_code == 0, result.stderr
    assert 0.0 <= json.loads(result.stdout)["metrics"]["accuracy"] <= 1.0
    cached = list((tmp_path / "cache" / "objects").glob("sha256-*/model.h5"))
    assert len(cached) == 1
    assert run("predict", model, SAMPLES / "iris" / "iris.csv", *endpoint).exit_code == 0
    assert list((tmp_path / "cache" / "objects").glob("*/model.h5")) == cached


@pytest.mark.s3
def test_secrets_never_reach_output_run_files_or_the_remote(
    moto_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    secret = "dlcli-secret-0123456789abcdef"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dlcli-key-id-0123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bucket = moto_server.new_bucket()
    result = run(
        "train",
        "--data",
        SAMPLES / "iris" / "iris.csv",
        "--target",
        "species",
        "--epochs",
        "3",
        "--out",
        tmp_path / "run",
        "--push-to",
        f"s3://{bucket}/runs",
        "--endpoint-url",
        moto_server.endpoint,
    )
    assert result.exit_code == 0, result.stderr
    failed = run("push", tmp_path / "run", "s3://no-such-bucket-y/p", "--endpoint-url", moto_server.endpoint)
    assert failed.exit_code == 1
    for text in (result.stdout, result.stderr, failed.stdout, failed.stderr):
        assert secret not in text
    for path in (tmp_path / "run").rglob("*"):
        assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    client = moto_server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith("model.h5") for k in keys)
    for key in keys:
        assert secret.encode() not in client.get_object(Bucket=bucket, Key=key)["Body"].read(), key


def test_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    pushed = run("push", tmp_path / "nope", tmp_path / "remote")
    assert pushed.exit_code == 2 and f"Error: Nothing to push: '{tmp_path / 'nope'}' does not exist." in pushed.stderr
    pulled = run("pull", tmp_path / "no-remote", tmp_path / "out")
    assert pulled.exit_code == 2 and "Error: Nothing to pull:" in pulled.stderr
    assert not (tmp_path / "remote").exists() and not (tmp_path / "out").exists()


@pytest.mark.s3
def test_train_takes_remote_settings_from_its_own_config_not_the_working_directory(
    moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """[remote] in a config that lives elsewhere reaches s3:// data and --push-to.

    train used to rebuild its remote options by reading ./dlcli.toml, so the project's
    cache_dir (and jobs, checksum) were ignored when the config was not in the working
    directory.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    bucket = moto_server.new_bucket()
    moto_server.client().upload_file(str(SAMPLES / "iris" / "iris.csv"), bucket, "data/iris.csv")
    project = tmp_path / "project"
    project.mkdir()
    (project / "dlcli.toml").write_text(
        f'[data]\npath = "s3://{bucket}/data/iris.csv"\ntarget = "species"\n'
        f'[train]\nepochs = 2\ncheckpoint_every = 1\n[output]\nout = "run"\n'
        f'[remote]\nendpoint_url = "{moto_server.endpoint}"\ncache_dir = "{tmp_path / "project-cache"}"\n'
        f'push_to = "s3://{bucket}/runs"\njobs = 2\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("train", project / "dlcli.toml", "--quiet", "--json")
    assert result.exit_code == 0, result.stderr
    assert list((tmp_path / "project-cache" / "objects").glob("*/iris.csv"))
    assert not (tmp_path / "cache" / "objects").exists()  # the DLCLI_CACHE_DIR default was not used
    keys = {o["Key"] for o in moto_server.client().list_objects_v2(Bucket=bucket, Prefix="runs/")["Contents"]}
    assert "runs/run/model.h5" in keys and "runs/run/checkpoints/epoch-0002.h5" in keys


@pytest.mark.s3
def test_parquet_and_feather_data_on_s3(moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.csv as pcsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    table = pcsv.read_csv(SAMPLES / "churn" / "churn.csv")
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "churn.parquet")
    feather.write_feather(table, tmp_path / "data" / "churn.feather")
    bucket = moto_server.new_bucket()
    endpoint = ("--endpoint-url", moto_server.endpoint)
    assert run("push", tmp_path / "data", f"s3://{bucket}/data", *endpoint).exit_code == 0
    parquet, feather_url = f"s3://{bucket}/data/churn.parquet", f"s3://{bucket}/data/churn.feather"
    trained = run(
        "train", "--data", parquet, "--target", "churned", "--epochs", "2", "--out", tmp_path / "run", *endpoint
    )
    assert trained.exit_code == 0, trained.stderr
    model = tmp_path / "run" / "model.h5"
    evaluated = run("eval", model, feather_url, "--json", *endpoint)
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["n_samples"] == 600
    predicted = run("predict", model, parquet, "--output", tmp_path / "p.parquet", *endpoint)
    assert predicted.exit_code == 0, predicted.stderr
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 600


@pytest.mark.s3
def test_explain_an_s3_model_on_s3_data_as_it_explains_local_files(
    moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    data = SAMPLES / "churn" / "churn.csv"
    trained = run("train", "--data", data, "--target", "churned", "--epochs", "3", "--out", tmp_path / "run", "-q")
    assert trained.exit_code == 0, trained.stderr
    bucket = moto_server.new_bucket()
    endpoint = ("--endpoint-url", moto_server.endpoint)
    assert run("push", tmp_path / "run" / "model.h5", f"s3://{bucket}/models", *endpoint).exit_code == 0
    assert run("push", data, f"s3://{bucket}/data", *endpoint).exit_code == 0
    model, remote_data = f"s3://{bucket}/models/model.h5", f"s3://{bucket}/data/churn.csv"
    local_model = tmp_path / "run" / "model.h5"
    remote_importance = run("explain", model, remote_data, "--json", *endpoint)
    assert remote_importance.exit_code == 0, remote_importance.stderr
    assert json.loads(remote_importance.stdout) == json.loads(run("explain", local_model, data, "--json").stdout)
    remote_rows = run("explain", model, remote_data, "--rows", "--baseline", remote_data, *endpoint)
    assert remote_rows.exit_code == 0, remote_rows.stderr
    assert remote_rows.stdout == run("explain", local_model, data, "--rows", "--baseline", str(data)).stdout
    assert len(remote_rows.stdout.splitlines()) == 601
