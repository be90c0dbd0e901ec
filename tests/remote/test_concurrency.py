"""Concurrent pushes to one prefix keep every manifest entry (real processes against moto), and
the merge of several writers' manifests (pure)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcli.remote import S3Remote, SyncOptions, manifest
from dlcli.remote.hashing import hash_file
from dlcli.remote.s3 import S3Store
from dlcli.remote.store import FileState
from tests.remote.conftest import manifest_keys

SIZES = (110, 110, 110, 111)  # 441 files in four directories


@pytest.mark.s3
def test_four_concurrent_pushes_keep_every_entry(moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    bucket = moto_server.new_bucket()
    expected: dict[str, str] = {}
    for writer, count in enumerate(SIZES):
        root = tmp_path / f"src{writer}"
        root.mkdir()
        for i in range(count):
            path = root / f"w{writer}-{i:03d}.txt"
            path.write_text(f"writer {writer} file {i}\n")
            expected[path.name] = hash_file(path)[0]
    dest = f"s3://{bucket}/shared"
    endpoint = ("--endpoint-url", moto_server.endpoint)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dlcli", "push", str(tmp_path / f"src{w}"), dest, *endpoint],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(len(SIZES))
    ]
    deadline = time.monotonic() + 180
    for proc in procs:
        _, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, stderr
    options = SyncOptions(endpoint_url=moto_server.endpoint, cache_dir=tmp_path / "cache")
    store = S3Store(S3Remote(bucket, "shared"), options)
    states = store.states()
    assert {key: state.sha256 for key, state in states.items()} == expected
    assert store.manifest_misses == 0  # every SHA-256 came from the manifests, none from a HEAD
    # The next push merges the writers' manifests into one, keeping all 441 entries.
    from dlcli.remote import push

    assert push(tmp_path / "src0", dest, options).uploaded == []
    (key,) = manifest_keys(moto_server.client(), bucket, "shared")
    body = moto_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert {k: s.sha256 for k, s in manifest.parse(body).items()} == expected


SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def test_merge_keeps_every_writers_entries_the_listing_bears_out() -> None:
    mine = manifest.render({"a": FileState(1, SHA_A, None, "e1"), "gone": FileState(1, SHA_C, None, "e9")})
    theirs = manifest.render({"b": FileState(2, SHA_B, None, "e2"), "a": FileState(1, SHA_C, None, "old")})
    listing = {"a": (1, "e1"), "b": (2, "e2")}
    merged = manifest.merge([theirs, mine, b"not json"], listing)
    assert {k: s.sha256 for k, s in merged.items()} == {"a": SHA_A, "b": SHA_B}


def test_manifest_names_are_unique_and_internal() -> None:
    from dlcli.remote.paths import MANIFEST_NAME, is_internal, is_manifest, new_manifest_name

    names = {new_manifest_name() for _ in range(100)}
    assert len(names) == 100 and all(is_manifest(n) and is_internal(f"x/{n}") for n in names)
    assert is_manifest(MANIFEST_NAME) and not is_manifest("sub/" + MANIFEST_NAME)
    assert not is_manifest(".dlcli-manifest.json.bak") and not is_manifest("dlcli-manifest.json")


@pytest.mark.s3
def test_an_older_releases_manifest_is_read_then_replaced(
    moto_server,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from dlcli.remote import push
    from dlcli.remote.paths import MANIFEST_NAME

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    bucket = moto_server.new_bucket()
    client = moto_server.client()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a\n")
    sha = hash_file(tmp_path / "src" / "a.txt")[0]
    etag = client.put_object(Bucket=bucket, Key="p/a.txt", Body=b"a\n")["ETag"].strip('"')  # no sha256 metadata
    legacy = manifest.render({"a.txt": FileState(2, sha, None, etag)})
    client.put_object(Bucket=bucket, Key=f"p/{MANIFEST_NAME}", Body=legacy)
    options = SyncOptions(endpoint_url=moto_server.endpoint, cache_dir=tmp_path / "cache")
    store = S3Store(S3Remote(bucket, "p"), options)
    assert store.states()["a.txt"].sha256 == sha and store.manifest_misses == 0
    (tmp_path / "src" / "b.txt").write_text("b\n")
    assert push(tmp_path / "src", f"s3://{bucket}/p", options).uploaded == ["b.txt"]
    (key,) = manifest_keys(client, bucket, "p")
    assert key != f"p/{MANIFEST_NAME}"
    assert set(manifest.parse(client.get_object(Bucket=bucket, Key=key)["Body"].read())) == {"a.txt", "b.txt"}
