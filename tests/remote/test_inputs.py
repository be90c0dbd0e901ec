"""Bad input at the command line: one ``Error:`` line saying what is wrong and how to fix it,
exit 2 for usage and input, 1 at run time, never a traceback or a hang.

The endpoints here are real processes or sockets on 127.0.0.1: nothing is reachable that
answers, a port that accepts connections and never answers, a plain web server.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.remote.conftest import free_port

SECRET = "topsecret-0123456789"


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    from dlcli.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def assert_one_clean_error(result, code: int) -> str:  # type: ignore[no-untyped-def]
    """The exit code, exactly one Error line (returned), no traceback, no internal error."""
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr and "Unexpected internal error" not in result.stderr, result.stderr
    (line,) = errors(result.stderr)
    return str(line)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("a\n")
    return tmp_path / "a.txt"


# --- 1. an unknown profile -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["push", "pull"])
def test_unknown_profile_is_a_usage_error_naming_it_and_where_profiles_come_from(
    command: str, tmp_path: Path, a_file: Path
) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text("[profile dev]\nregion = us-east-1\n[default]\nregion = us-east-1\n")
    endpoint = ("--endpoint-url", f"http://127.0.0.1:{free_port()}")
    args = [a_file, "s3://bucket-x/p"] if command == "push" else ["s3://bucket-x/p", tmp_path / "out"]
    result = run(command, *args, "--profile", "nosuchprofile", *endpoint)
    line = assert_one_clean_error(result, 2)
    credentials = os.environ["AWS_SHARED_CREDENTIALS_FILE"]
    assert line == (
        f"Error: AWS profile 'nosuchprofile' (from --profile) is not defined in {config} or {credentials}; "
        "profiles defined there: default, dev."
    )
    assert f"Hint: Add a [profile nosuchprofile] section to {config}, or name one of those" in result.stderr


def test_unknown_profile_from_aws_profile_names_the_variable(monkeypatch: pytest.MonkeyPatch, a_file: Path) -> None:
    monkeypatch.setenv("AWS_PROFILE", "gone")
    result = run("push", a_file, "s3://bucket-x/p", "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    line = assert_one_clean_error(result, 2)
    assert line.startswith("Error: AWS profile 'gone' (from AWS_PROFILE) is not defined in ")
    assert line.endswith("profiles defined there: none.")


# --- 3. an endpoint URL that is not http(s)://HOST -----------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "expected http://HOST[:PORT] or https://HOST[:PORT]"),
        ("ftp://127.0.0.1:21", "the scheme is 'ftp', expected http or https"),
        ("http://", "it names no valid host"),
        ("http://exa_mple!.com", "it names no valid host"),
        ("http://127.0.0.1:99999", "the port is not a number from 0 to 65535"),
        ("127.0.0.1:9000", "expected http://HOST[:PORT] or https://HOST[:PORT]"),
    ],
)
@pytest.mark.parametrize("command", ["push", "pull"])
def test_invalid_endpoint_url_is_a_usage_error(
    command: str, url: str, why: str, tmp_path: Path, a_file: Path, credentials: None
) -> None:
    args = [a_file, "s3://bucket-x/p"] if command == "push" else ["s3://bucket-x/p", tmp_path / "out"]
    result = run(command, *args, "--endpoint-url", url)
    assert assert_one_clean_error(result, 2) == f"Error: Invalid S3 endpoint URL '{url}' from --endpoint-url: {why}."
    assert "Hint: Give the address of the S3 API, e.g. http://127.0.0.1:9000" in result.stderr


def test_invalid_endpoint_url_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, a_file: Path, credentials: None
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"ftp://user:{SECRET}@127.0.0.1")
    result = run("push", a_file, "s3://bucket-x/p")
    assert assert_one_clean_error(result, 2) == (
        "Error: Invalid S3 endpoint URL 'ftp://user:***@127.0.0.1' from AWS_ENDPOINT_URL_S3: "
        "the scheme is 'ftp', expected http or https."
    )


# --- 4. a password in the endpoint URL is never echoed -------------------------------------


def test_password_in_endpoint_is_redacted_in_errors(a_file: Path, credentials: None) -> None:
    port = free_port()  # nothing listens
    result = run("push", a_file, "s3://bucket-x/p", "--endpoint-url", f"http://user:{SECRET}@127.0.0.1:{port}")
    line = assert_one_clean_error(result, 1)
    assert SECRET not in result.stderr + result.stdout
    assert f"(endpoint http://user:***@127.0.0.1:{port})" in line


# --- 7. pulling into a file ----------------------------------------------------------------


def test_pull_into_a_regular_file_is_one_usage_error(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    for i in range(5):
        (remote / f"f{i}.txt").write_text(str(i))
    target = tmp_path / "target.txt"
    target.write_text("mine\n")
    result = run("pull", remote, target)
    assert assert_one_clean_error(result, 2) == f"Error: Cannot pull into '{target}': it is a file, not a directory."
    assert "failed" not in result.stderr and target.read_text() == "mine\n"
    nested = run("pull", remote, target / "sub")
    assert errors(nested.stderr) == [
        f"Error: Cannot pull into '{target / 'sub'}': '{target}' is a file, not a directory."
    ]
    assert nested.exit_code == 2


def test_pull_into_a_file_is_refused_before_the_network(tmp_path: Path, credentials: None) -> None:
    target = tmp_path / "target.txt"
    target.write_text("mine\n")
    # Nothing listens there: an up-front check answers before any connection is tried.
    result = run("pull", "s3://bucket-x/p", target, "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert assert_one_clean_error(result, 2).startswith(f"Error: Cannot pull into '{target}'")


# --- 5. an endpoint that is a web server, not S3 -------------------------------------------


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain ``http.server`` on 127.0.0.1 serving a directory with a folder ``bucket-y``."""
    root = tmp_path / "www"
    (root / "bucket-y").mkdir(parents=True)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("bucket", "answer"),
    [("bucket-x", "HTTP 404 (text/html), not S3 XML"), ("bucket-y", "HTTP 301 without any S3 header")],
    ids=["404-page", "redirect"],  # bucket-y exists as a folder: the server redirects to "bucket-y/"
)
@pytest.mark.parametrize("command", ["push", "pull"])
def test_web_server_endpoint_is_not_an_s3_server(
    command: str, bucket: str, answer: str, web_server: str, tmp_path: Path, a_file: Path, credentials: None
) -> None:
    args = [a_file, f"s3://{bucket}/p"] if command == "push" else [f"s3://{bucket}/p", tmp_path / "out"]
    result = run(command, *args, "--endpoint-url", web_server)
    line = assert_one_clean_error(result, 1)
    assert line.startswith(f"Error: The endpoint {web_server} does not look like an S3 server: for s3://{bucket}")
    assert line.endswith(f"it answered {answer}."), line
    assert "No such object" not in result.stderr


def test_fetch_from_a_web_server_is_not_no_such_object(web_server: str, credentials: None, tmp_path: Path) -> None:
    from dlcli.errors import RemoteError
    from dlcli.remote import SyncOptions, fetch

    with pytest.raises(RemoteError, match=r"does not look like an S3 server: for s3://bucket-x/model\.h5 "):
        fetch("s3://bucket-x/model.h5", SyncOptions(endpoint_url=web_server, cache_dir=tmp_path / "c"))


# --- 2. an endpoint that accepts connections and never answers -----------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():  # bounded by the test: stop is set at teardown
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("userinfo", ["", f"user:{SECRET}@"], ids=["plain", "with-password"])
def test_silent_endpoint_times_out_with_retry_lines(
    silent_port: int, userinfo: str, tmp_path: Path, a_file: Path, credentials: None
) -> None:
    (tmp_path / "dlcli.toml").write_text("[remote]\ntimeout = 1\n")
    endpoint = f"http://{userinfo}127.0.0.1:{silent_port}"
    shown = endpoint.replace(SECRET, "***")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dlcli", "push", str(a_file), "s3://bucket-x/p", "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 40, elapsed  # 5 attempts of 1 s and a little backoff, not 5 x 60 s
    assert SECRET not in proc.stderr + proc.stdout
    retries = [line for line in proc.stderr.splitlines() if line.startswith("Retrying ")]
    assert retries == [
        f"Retrying ListObjectsV2 for s3://bucket-x/p/ (endpoint {shown}): no answer within 1 s; attempt {n} of 5."
        for n in range(2, 6)
    ], proc.stderr
    assert errors(proc.stderr) == [
        f"Error: The S3 endpoint {shown} accepted the connection but did not answer within 1 s (5 attempts) "
        "for s3://bucket-x/p/."
    ], proc.stderr
    assert "raise [remote] timeout = SECONDS in dlcli.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_timeout_must_be_positive(tmp_path: Path, a_file: Path, credentials: None) -> None:
    (tmp_path / "dlcli.toml").write_text("[remote]\ntimeout = 0\n")
    result = run("push", a_file, "s3://bucket-x/p", "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert "remote.timeout" in assert_one_clean_error(result, 2)
