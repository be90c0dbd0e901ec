"""What a killed push or pull leaves behind, and how the next one recovers; keys and files
sync must not treat as data (folder markers, temporary names).

The kills are real: a ``python -m dlcli`` process is stopped with SIGKILL while the fault
proxy (:mod:`tests.remote.faultproxy`) holds one of its requests unanswered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcli.files import TEMP_PREFIX, is_temporary
from tests.remote.faultproxy import FaultProxy

s3 = pytest.mark.s3


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    from dlcli.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_dlcli(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dlcli", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if is_temporary(p.name)]


@pytest.fixture
def moto(moto_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    return moto_server


# --- 6. folder markers ---------------------------------------------------------------------


@s3
def test_folder_markers_are_skipped_not_unsafe(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket = moto.new_bucket()
    client = moto.client()
    for key, body in [("p/", b""), ("p/folder/", b""), ("p/folder/a.txt", b"a"), ("p/empty/", b""), ("q/", b"")]:
        client.put_object(Bucket=bucket, Key=key, Body=body)
    endpoint = ("--endpoint-url", moto.endpoint)
    result = run("pull", f"s3://{bucket}/p", tmp_path / "out", "--json", *endpoint)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["downloaded"] == ["folder/a.txt"]
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "folder",
        "folder/a.txt",
    ]
    # A "folder" holding only its marker exists: an empty pull, not "Nothing to pull".
    empty = run("pull", f"s3://{bucket}/q/", tmp_path / "out-q", "--json", *endpoint)
    assert empty.exit_code == 0, empty.stderr
    assert json.loads(empty.stdout)["downloaded"] == []


# --- 8. temporary files --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", pytest.param("moto", marks=s3)])
def test_push_never_sends_temporary_files(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "model.h5").write_bytes(b"weights")
    for name in (f"{TEMP_PREFIX}0000abcd-1-ffff-model.h5", ".model.h5.1a2b3c4d.tmp", "sub/.preds.csv.tmp"):
        (src / name).write_bytes(b"half")
    if backend == "local":
        dest, extra = str(tmp_path / "remote"), ()
    else:
        server = request.getfixturevalue("moto")
        dest, extra = f"s3://{server.new_bucket()}/p", ("--endpoint-url", server.endpoint)
    planned = run("push", src, dest, "--dry-run", "--json", *extra)
    assert json.loads(planned.stdout)["uploaded"] == ["model.h5"], planned.stdout
    pushed = run("push", src, dest, "--json", *extra)
    assert pushed.exit_code == 0, pushed.stderr
    assert json.loads(pushed.stdout)["uploaded"] == ["model.h5"]
    pulled = run("pull", dest, tmp_path / "back", "--json", *extra)
    assert json.loads(pulled.stdout)["downloaded"] == ["model.h5"]


def test_push_to_a_directory_sweeps_what_a_killed_writer_left_there(tmp_path: Path) -> None:
    remote = tmp_path / "remote" / "sub"
    remote.mkdir(parents=True)
    code = "import os, sys; from dlcli.files import AtomicFile; AtomicFile(sys.argv[1]); os._exit(9)"
    subprocess.run([sys.executable, "-c", code, str(remote / "model.h5")], check=False, timeout=60)
    assert len(temporaries(tmp_path / "remote")) == 1
    (tmp_path / "a.txt").write_text("a")
    result = run("push", tmp_path / "a.txt", tmp_path / "remote")
    assert result.exit_code == 0, result.stderr
    assert temporaries(tmp_path / "remote") == []
    assert f"Removed 1 temporary file(s) left by interrupted transfers in '{tmp_path / 'remote'}'." in result.stderr


@s3
def test_killed_pull_leaves_a_temporary_file_the_next_pull_removes(
    proxy: FaultProxy,
    moto_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    bucket = moto_server.new_bucket()
    for name in ("a.txt", "b.txt", "c.txt"):
        moto_server.client().put_object(Bucket=bucket, Key=f"p/{name}", Body=name.encode() * 1000)
    out = tmp_path / "out"
    held = f"/{bucket}/p/b.txt"
    proxy.add(lambda m, p, q: m == "GET" and p == held, "hold", times=1)
    proc = start_dlcli("pull", f"s3://{bucket}/p", out, "--endpoint-url", proxy.url, "--jobs", "1", cwd=tmp_path)
    try:
        wait_for(lambda: bool(proxy.requests("GET", held)) and bool(temporaries(out)), "the held download")
    finally:
        kill(proc)
    proxy.released.set()
    (left,) = temporaries(out)
    assert left.name.endswith("-b.txt") and (out / "a.txt").is_file() and not (out / "b.txt").exists()
    result = run("pull", f"s3://{bucket}/p", out, "--endpoint-url", moto_server.endpoint)
    assert result.exit_code == 0, result.stderr
    assert temporaries(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert f"Removed 1 temporary file(s) left by interrupted transfers in '{out}'." in result.stderr


# --- 9. multipart uploads of a killed push -------------------------------------------------


@s3
@pytest.mark.slow  # 17 MiB up twice
def test_killed_push_leaves_a_multipart_upload_the_next_push_aborts_once_stale(
    proxy: FaultProxy,
    moto_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dlcli.remote import s3uploads
    from dlcli.remote.s3 import MULTIPART_THRESHOLD

    bucket = moto_server.new_bucket()
    client = moto_server.client()
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(1024) * ((MULTIPART_THRESHOLD + 1024 * 1024) // 1024))
    part2 = f"/{bucket}/p/big.bin"
    proxy.add(lambda m, p, q: m == "PUT" and p == part2 and q.get("partNumber") == ["2"], "hold", times=1)
    proc = start_dlcli("push", src, f"s3://{bucket}/p", "--endpoint-url", proxy.url, "--jobs", "1", cwd=tmp_path)
    try:
        wait_for(lambda: bool(proxy.requests("PUT", part2, partNumber="2")), "the held part")
    finally:
        kill(proc)
    proxy.released.set()
    (left,) = client.list_multipart_uploads(Bucket=bucket, Prefix="p/")["Uploads"]
    endpoint = ("--endpoint-url", moto_server.endpoint)
    # Just interrupted: it may as well be a concurrent push's live upload, so it is kept.
    first = run("push", src, f"s3://{bucket}/p", *endpoint)
    assert first.exit_code == 0, first.stderr
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket, Prefix="p/")["Uploads"]] == [
        left["UploadId"]
    ]
    # Once idle for longer than the limit, the next push aborts it.
    monkeypatch.setattr(s3uploads, "STALE_SECONDS", -1.0)
    second = run("push", src, f"s3://{bucket}/p", *endpoint)
    assert second.exit_code == 0, second.stderr
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix="p/")
    assert (
        f"Aborted 1 multipart upload(s) under s3://{bucket}/p (endpoint {moto_server.endpoint}) left unfinished "
        "by an interrupted push: big.bin." in second.stderr
    )
    assert client.head_object(Bucket=bucket, Key="p/big.bin")["ContentLength"] == (src / "big.bin").stat().st_size


@s3
def test_uploads_outside_the_prefix_are_left_alone(moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dlcli.remote import s3uploads

    bucket = moto.new_bucket()
    client = moto.client()
    upload = client.create_multipart_upload(Bucket=bucket, Key="other/big.bin")["UploadId"]
    monkeypatch.setattr(s3uploads, "STALE_SECONDS", -1.0)
    (tmp_path / "a.txt").write_text("a")
    assert run("push", tmp_path / "a.txt", f"s3://{bucket}/p", "--endpoint-url", moto.endpoint).exit_code == 0
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload]
