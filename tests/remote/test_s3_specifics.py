"""S3-only behaviour: foreign objects, unsafe keys, multipart, errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcli.errors import RemoteError
from dlcli.remote import SyncOptions, fetch, pull, push
from tests.remote.conftest import manifest_keys


@pytest.fixture
def moto(moto_server, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    return moto_server


@pytest.mark.s3
def test_foreign_objects_pull_and_compare_by_md5(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    moto.client().put_object(Bucket=bucket, Key="p/a.txt", Body=b"hello")
    options = SyncOptions(endpoint_url=moto.endpoint)
    assert pull(f"s3://{bucket}/p", tmp_path / "out", options).downloaded == ["a.txt"]
    # The local copy equals the foreign object: the plain-MD5 ETag settles it, nothing uploaded.
    assert push(tmp_path / "out", f"s3://{bucket}/p", options).skipped == ["a.txt"]


@pytest.mark.s3
@pytest.mark.slow  # 17 MiB up twice, re-hashed into multipart ETags: about 2 s
def test_foreign_multipart_objects_compare_by_reproduced_etag(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from boto3.s3.transfer import TransferConfig

    bucket = moto.new_bucket()
    src = tmp_path / "src"
    src.mkdir()
    data = bytearray(b"\2" * (17 * 1024 * 1024))
    (src / "big.bin").write_bytes(data)
    eight = 8 * 1024 * 1024  # what aws s3 cp / boto3 use by default
    moto.client().upload_file(
        str(src / "big.bin"),
        bucket,
        "p/big.bin",
        Config=TransferConfig(multipart_threshold=eight, multipart_chunksize=eight),
    )
    assert moto.client().head_object(Bucket=bucket, Key="p/big.bin")["ETag"].strip('"').endswith("-3")
    options = SyncOptions(endpoint_url=moto.endpoint)
    assert push(src, f"s3://{bucket}/p", options).skipped == ["big.bin"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "big.bin").write_bytes(data)
    assert pull(f"s3://{bucket}/p", tmp_path / "out", options).skipped == ["big.bin"]
    data[-1] = 3  # same size, one byte different
    (src / "big.bin").write_bytes(data)
    assert push(src, f"s3://{bucket}/p", options).uploaded == ["big.bin"]


@pytest.mark.s3
def test_unsafe_key_refused_before_writing(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    moto.client().put_object(Bucket=bucket, Key="p/ok.txt", Body=b"ok")
    moto.client().put_object(Bucket=bucket, Key="p/../escape.txt", Body=b"bad")
    with pytest.raises(RemoteError, match="unsafe key"):
        pull(f"s3://{bucket}/p", tmp_path / "out", SyncOptions(endpoint_url=moto.endpoint))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "ok.txt").exists()


@pytest.mark.s3
def test_multipart_upload_and_noop_reads_manifest(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(b"\1" * (17 * 1024 * 1024))
    options = SyncOptions(endpoint_url=moto.endpoint)
    push(tmp_path / "src", f"s3://{bucket}/m", options)
    head = moto.client().head_object(Bucket=bucket, Key="m/big.bin")
    assert head["ETag"].strip('"').endswith("-2") and "sha256" in head["Metadata"]
    assert len(manifest_keys(moto.client(), bucket, "m")) == 1
    assert push(tmp_path / "src", f"s3://{bucket}/m", options).skipped == ["big.bin"]
    got = pull(f"s3://{bucket}/m", tmp_path / "out", options)
    assert got.downloaded == ["big.bin"] and (tmp_path / "out" / "big.bin").stat().st_size == 17 * 1024 * 1024


@pytest.mark.s3
def test_objects_known_only_by_head_enter_the_manifest(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from dlcli.remote import BackgroundUploader

    bucket = moto.new_bucket()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ckpt.h5").write_bytes(b"weights")
    options = SyncOptions(endpoint_url=moto.endpoint)
    uploader = BackgroundUploader(f"s3://{bucket}/run", options)  # uploads objects, writes no manifest
    uploader.submit(tmp_path / "src" / "ckpt.h5", "ckpt.h5")
    assert uploader.close().uploaded == ["ckpt.h5"]
    assert push(tmp_path / "src", f"s3://{bucket}/run", options).skipped == ["ckpt.h5"]
    (manifest,) = manifest_keys(moto.client(), bucket, "run")
    body = moto.client().get_object(Bucket=bucket, Key=manifest)["Body"].read()
    assert set(json.loads(body)["files"]) == {"ckpt.h5"}


@pytest.mark.s3
def test_fetch_caches_by_content(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.csv").write_text("x,y\n1,2\n")
    options = SyncOptions(endpoint_url=moto.endpoint, cache_dir=tmp_path / "c")
    push(tmp_path / "src", f"s3://{bucket}/d", options)
    first = fetch(f"s3://{bucket}/d/data.csv", options)
    assert first.read_text() == "x,y\n1,2\n" and str(first).startswith(str(tmp_path / "c"))
    assert fetch(f"s3://{bucket}/d/data.csv", options) == first


@pytest.mark.s3
def test_fetch_missing_object_names_it(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    with pytest.raises(RemoteError, match=f"No such object s3://{bucket}/d/missing.h5 .endpoint http://127.0.0.1"):
        fetch(f"s3://{bucket}/d/missing.h5", SyncOptions(endpoint_url=moto.endpoint, cache_dir=tmp_path / "c"))
    assert not list((tmp_path / "c").rglob("*.h5"))


@pytest.mark.s3
def test_no_such_bucket_names_bucket_and_endpoint(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "f").write_text("x")
    with pytest.raises(RemoteError) as info:
        push(tmp_path / "f", "s3://no-such-bucket-x/p", SyncOptions(endpoint_url=moto.endpoint))
    assert "no-such-bucket-x" in info.value.message and moto.endpoint in info.value.message


@pytest.mark.s3
def test_wrong_secret_on_rclone_hints_credentials(rclone_server, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = rclone_server.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rclone_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    (tmp_path / "f").write_text("x")
    with pytest.raises(RemoteError) as info:
        push(tmp_path / "f", f"s3://{bucket}/p", SyncOptions(endpoint_url=rclone_server.endpoint))
    assert bucket in info.value.message and "AWS_ACCESS_KEY_ID" in (info.value.hint or "")
    assert "wrong-secret" not in info.value.message + (info.value.hint or "")


def test_unreachable_endpoint_hints_endpoint(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.remote.conftest import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    (tmp_path / "f").write_text("x")
    with pytest.raises(RemoteError) as info:
        push(tmp_path / "f", "s3://bucket-x/p", SyncOptions(endpoint_url=f"http://127.0.0.1:{free_port()}"))
    assert "remote.endpoint_url" in (info.value.hint or "")  # the CLI renders it as --endpoint-url
