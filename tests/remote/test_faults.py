"""Transient and permanent S3 faults, injected by a real HTTP proxy in front of moto's server.

The proxy (:mod:`tests.remote.faultproxy`, the ``proxy`` fixture) forwards every request
unchanged to ``moto_server`` and, when a rule matches, answers 503/500 itself or drops the
connection without a response. Nothing patches boto3 or botocore: the retries and the
multipart abort seen here are the ones dlcli's client really performs.

Timing: botocore's standard retry mode sleeps ``rand() * 2 ** (attempt - 1)`` seconds
between attempts, and dlcli allows five attempts in all (``total_max_attempts=5``), so a
permanent 5xx costs up to 1+2+4+8 s of backoff (7.5 s on average). Only one test pays
that; the CLI test fails with a non-retryable 403 instead, which takes the same abort path.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dlcli.errors import RemoteError
from dlcli.remote import S3Remote, SyncOptions, pull, push
from dlcli.remote.s3 import MULTIPART_THRESHOLD, S3Store
from tests.remote.conftest import manifest_keys
from tests.remote.faultproxy import FaultProxy

pytestmark = pytest.mark.s3  # every test runs against moto through the proxy


# Not forwarded: per-connection headers, and Expect (this proxy already answered 100-continue
# and holds the whole body; botocore does not sign Expect).
def options(proxy: FaultProxy, tmp_path: Path) -> SyncOptions:
    return SyncOptions(endpoint_url=proxy.url, cache_dir=tmp_path / "cache")


def is_part(path: str, number: int) -> Callable[[str, str, dict[str, list[str]]], bool]:
    return lambda m, p, q: m == "PUT" and p == path and q.get("partNumber") == [str(number)]


@pytest.mark.slow  # two jittered backoffs: up to 3 s
def test_put_retried_after_two_503s(proxy: FaultProxy, moto_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_bytes(b"alpha\n" * 100)
    (tmp_path / "src" / "b.txt").write_bytes(b"beta\n")
    path = f"/{bucket}/p/a.txt"
    proxy.add(lambda m, p, q: m == "PUT" and p == path, "503", times=2)
    report = push(tmp_path / "src", f"s3://{bucket}/p", options(proxy, tmp_path))
    assert not report.failed and sorted(report.uploaded) == ["a.txt", "b.txt"]
    assert [s.outcome for s in proxy.requests("PUT", path)] == ["503", "503", "forwarded"]
    body = moto_server.client().get_object(Bucket=bucket, Key="p/a.txt")["Body"].read()
    assert body == b"alpha\n" * 100  # the retried PUT re-sent the whole file, not a drained stream


@pytest.mark.parametrize("fault", ["drop", "truncate"])  # no response at all; a body cut off halfway
def test_failed_get_is_retried(proxy: FaultProxy, moto_server, tmp_path: Path, fault: str) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    payload = bytes(range(256)) * 4000  # 1 MB: the single-GET path
    moto_server.client().put_object(Bucket=bucket, Key="p/w.bin", Body=payload)
    path = f"/{bucket}/p/w.bin"
    proxy.add(lambda m, p, q: m == "GET" and p == path, fault, times=1)
    report = pull(f"s3://{bucket}/p", tmp_path / "out", options(proxy, tmp_path))
    assert not report.failed and report.downloaded == ["w.bin"]
    assert [s.outcome for s in proxy.requests("GET", path)] == [fault, "forwarded"]
    assert (tmp_path / "out" / "w.bin").read_bytes() == payload
    assert report.bytes == len(payload)


def test_download_cut_off_every_time_fails_cleanly(proxy: FaultProxy, moto_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    moto_server.client().put_object(Bucket=bucket, Key="p/w.bin", Body=b"w" * 100_000)
    proxy.add(lambda m, p, q: m == "GET" and p == f"/{bucket}/p/w.bin", "truncate", times=100)
    report = pull(f"s3://{bucket}/p", tmp_path / "out", options(proxy, tmp_path))
    assert [f["key"] for f in report.failed] == ["w.bin"] and f"s3://{bucket}/p/w.bin" in report.failed[0]["error"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no partial file, no temp


def big_file(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    # 17 MiB: two parts of the 16 MiB chunk size, the second one 1 MiB.
    (src / "big.bin").write_bytes(b"\x01" * (MULTIPART_THRESHOLD + 1024 * 1024))
    return src


def assert_nothing_left(moto_server, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """Checked on moto directly, not through the proxy."""
    client = moto_server.client()
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket)
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix=key)


@pytest.mark.slow  # four jittered backoffs: up to 15 s
def test_failed_multipart_upload_is_aborted(proxy: FaultProxy, moto_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    src = big_file(tmp_path)
    path = f"/{bucket}/p/big.bin"
    proxy.add(is_part(path, 2), "500", times=100)
    report = push(src, f"s3://{bucket}/p", options(proxy, tmp_path))
    assert report.uploaded == [] and [f["key"] for f in report.failed] == ["big.bin"]
    assert "InternalError" in report.failed[0]["error"] and f"s3://{bucket}/p/big.bin" in report.failed[0]["error"]
    # Part 2 got every attempt dlcli's client allows, spread out by the backoff ...
    retries = S3Store(S3Remote(bucket, "p"), options(proxy, tmp_path)).client.meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 5}
    part2 = proxy.requests("PUT", path, partNumber="2")
    assert [s.outcome for s in part2] == ["500"] * 5
    assert part2[-1].at - part2[0].at > 0.3  # P(four jittered sleeps sum under 0.3 s) ~ 1e-5
    # ... then the upload was aborted (after the last attempt) and never completed.
    assert len(proxy.requests("POST", path, uploads="")) == 1
    abort = proxy.requests("DELETE", path, uploadId=part2[0].query["uploadId"][0])
    assert [s.outcome for s in abort] == ["forwarded"] and abort[0].at > part2[-1].at
    assert not [s for s in proxy.requests("POST", path) if "uploadId" in s.query]  # no CompleteMultipartUpload
    assert_nothing_left(moto_server, bucket, "p/big.bin")


def test_cli_push_permanent_failure_exits_1_with_one_error_line(
    proxy: FaultProxy,
    moto_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from dlcli.cli.app import app

    bucket = moto_server.new_bucket()
    src = big_file(tmp_path)
    (src / "small.txt").write_text("fine\n")
    path = f"/{bucket}/p/big.bin"
    proxy.add(is_part(path, 2), "403", times=100)
    result = CliRunner().invoke(
        app, ["push", str(src), f"s3://{bucket}/p", "--endpoint-url", proxy.url], catch_exceptions=False
    )
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: 1 file(s) failed to push; the others were transferred."], result.stderr
    assert "failed: big.bin:" in result.stderr
    assert len(proxy.requests("PUT", path, partNumber="2")) == 1  # a 403 is not retried
    assert len(proxy.requests("DELETE", path)) == 1
    assert_nothing_left(moto_server, bucket, "p/big.bin")
    assert moto_server.client().get_object(Bucket=bucket, Key="p/small.txt")["Body"].read() == b"fine\n"


def test_multipart_access_denied_is_named(proxy: FaultProxy, moto_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto_server.new_bucket()
    src = big_file(tmp_path)
    proxy.add(is_part(f"/{bucket}/p/big.bin", 2), "403", times=100)
    report = push(src, f"s3://{bucket}/p", options(proxy, tmp_path))
    assert [f["key"] for f in report.failed] == ["big.bin"]
    assert report.failed[0]["error"].startswith(f"Access denied to s3://{bucket}/p/big.bin ")


def test_proxy_forwards_chunked_bodies(proxy: FaultProxy, moto_server) -> None:  # type: ignore[no-untyped-def]
    """The proxy itself: a chunked request body reaches moto intact (moto does not check signatures)."""
    bucket = moto_server.new_bucket()
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(proxy.url).port, timeout=10)
    conn.request(
        "PUT",
        f"/{bucket}/chunked.bin",
        body=iter([b"abc", b"defg", b"h" * 5000]),
        headers={"Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    assert moto_server.client().get_object(Bucket=bucket, Key="chunked.bin")["Body"].read() == b"abcdefg" + b"h" * 5000


def push_cli(src: Path, dest: str, endpoint: str):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from dlcli.cli.app import app

    return CliRunner().invoke(app, ["push", str(src), dest, "--endpoint-url", endpoint], catch_exceptions=False)


def test_manifest_access_denied_is_an_error_not_no_manifest(proxy: FaultProxy, moto_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 403 on the manifest must not read as "no manifest" (then a HEAD per file, and success)."""
    bucket = moto_server.new_bucket()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    assert not push(src, f"s3://{bucket}/p", options(proxy, tmp_path)).failed  # writes the manifest
    (src / "b.txt").write_text("b\n")
    (key,) = manifest_keys(moto_server.client(), bucket, "p")
    manifest = f"/{bucket}/{key}"
    with proxy.lock:
        proxy.seen.clear()  # only what the second push sends
    proxy.add(lambda m, p, q: m == "GET" and p == manifest, "403", times=100)
    result = push_cli(src, f"s3://{bucket}/p", proxy.url)
    assert result.exit_code == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: Access denied to s3://{bucket}/{key} (endpoint {proxy.url})."], result.stderr
    assert [s.outcome for s in proxy.requests("GET", manifest)] == ["403"]  # not retried
    assert not proxy.requests("HEAD", f"/{bucket}/p/a.txt") and not proxy.requests("PUT", f"/{bucket}/p/b.txt")


def test_head_access_denied_is_an_error_not_a_foreign_object(
    proxy: FaultProxy,
    moto_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """An object the manifest does not cover is HEADed for its SHA-256; a 403 there is an error."""
    bucket = moto_server.new_bucket()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    moto_server.client().put_object(Bucket=bucket, Key="p/a.txt", Body=b"a\n")  # no manifest, no metadata
    path = f"/{bucket}/p/a.txt"
    proxy.add(lambda m, p, q: m == "HEAD" and p == path, "403", times=100)
    with pytest.raises(RemoteError) as info:
        push(src, f"s3://{bucket}/p", options(proxy, tmp_path))
    assert info.value.message == f"Access denied to s3://{bucket}/p/a.txt (endpoint {proxy.url})."
    assert [s.outcome for s in proxy.requests("HEAD", path)] == ["403"]
