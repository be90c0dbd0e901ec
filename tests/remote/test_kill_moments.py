"""SIGKILL a push and a pull at seeded moments against a real S3 server (moto).

After each kill: no object is visible with partial content and every final-named local file
is complete. Then the next command succeeds, leaves no temporary file, and the remote (or
the local copy) is exactly the source. The number of kills is bounded and the moments are
drawn from a seeded generator over the measured length of an uninterrupted transfer.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlcli.files import is_temporary
from dlcli.remote.paths import is_internal

pytestmark = pytest.mark.s3
KILLS = 5
TIMEOUT = 120


def _tree(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every final-named file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not is_temporary(p.name)
    }


def _temporaries(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if is_temporary(p.name)]


def _objects(client, bucket: str, prefix: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"][len(prefix) :]
            if not is_internal(key):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[key] = hashlib.sha256(body).hexdigest()
    return found


def _dlcli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlcli", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


def _kill_at(moment: float, *args: str | Path, cwd: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "dlcli", *map(str, args)], cwd=cwd, stderr=subprocess.DEVNULL)
    time.sleep(moment)
    proc.kill()
    proc.wait(timeout=TIMEOUT)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A run-like tree: one file above the multipart threshold, and many small ones."""
    from dlcli.remote.s3 import MULTIPART_THRESHOLD

    rng = np.random.default_rng(3)
    root = tmp_path / "src"
    (root / "checkpoints").mkdir(parents=True)
    (root / "model.h5").write_bytes(rng.bytes(MULTIPART_THRESHOLD + (1 << 20)))
    for i in range(40):
        (root / "checkpoints" / f"epoch-{i:04d}.h5").write_bytes(rng.bytes(256 << 10))
    return root


@pytest.fixture
def moto(moto_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    return moto_server


def _moments(duration: float, seed: int) -> list[float]:
    return [float(m) for m in np.random.default_rng(seed).uniform(0.3, max(0.6, duration), KILLS)]


def test_a_killed_push_shows_no_partial_object_and_the_next_push_completes(moto, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, endpoint = moto.client(), ("--endpoint-url", moto.endpoint, "--jobs", "4")
    bucket = moto.new_bucket()
    started = time.perf_counter()
    assert _dlcli("push", source, f"s3://{bucket}/ref", *endpoint, cwd=tmp_path).returncode == 0
    expected = _tree(source)
    for trial, moment in enumerate(_moments(time.perf_counter() - started, 5)):
        prefix = f"run-{trial}/"
        _kill_at(moment, "push", source, f"s3://{bucket}/{prefix}", *endpoint, cwd=tmp_path)
        visible = _objects(client, bucket, prefix)
        left = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
        print(f"push killed at {moment:.2f} s: {len(visible)} objects complete, {len(left)} multipart upload(s) open")
        assert all(expected[key] == digest for key, digest in visible.items()), f"partial object after {moment:.2f} s"
        done = _dlcli("push", source, f"s3://{bucket}/{prefix}", *endpoint, cwd=tmp_path)
        assert done.returncode == 0, f"after a kill at {moment:.2f} s: {done.stderr}"
        assert _objects(client, bucket, prefix) == expected
        back = tmp_path / f"back-{trial}"
        pulled = _dlcli("pull", f"s3://{bucket}/{prefix}", back, *endpoint, cwd=tmp_path)
        assert pulled.returncode == 0, pulled.stderr
        assert _tree(back) == expected and _temporaries(back) == []
        # A multipart upload the kill interrupted may remain until it is an hour idle (a live
        # concurrent push's cannot be told from it); never more than the one large file's.
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
        assert len(uploads) <= 1 and all(u["Key"] == f"{prefix}model.h5" for u in uploads)


def test_a_killed_pull_leaves_only_complete_files_and_the_next_pull_cleans_up(moto, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint = ("--endpoint-url", moto.endpoint, "--jobs", "4")
    bucket = moto.new_bucket()
    assert _dlcli("push", source, f"s3://{bucket}/p", *endpoint, cwd=tmp_path).returncode == 0
    expected = _tree(source)
    started = time.perf_counter()
    assert _dlcli("pull", f"s3://{bucket}/p", tmp_path / "ref", *endpoint, cwd=tmp_path).returncode == 0
    for trial, moment in enumerate(_moments(time.perf_counter() - started, 6)):
        out = tmp_path / f"out-{trial}"
        _kill_at(moment, "pull", f"s3://{bucket}/p", out, *endpoint, cwd=tmp_path)
        got = _tree(out) if out.is_dir() else {}
        print(f"pull killed at {moment:.2f} s: {len(got)} files complete, {len(_temporaries(out))} temporary")
        assert all(expected[k] == v for k, v in got.items()), f"a partial file after a kill at {moment:.2f} s"
        done = _dlcli("pull", f"s3://{bucket}/p", out, *endpoint, cwd=tmp_path)
        assert done.returncode == 0, f"after a kill at {moment:.2f} s: {done.stderr}"
        assert _tree(out) == expected and _temporaries(out) == [], f"after a kill at {moment:.2f} s"
