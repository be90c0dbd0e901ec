"""Unit tests for the subtle helpers: URL redaction and checks, telling an S3 server from a web
server, retry notices, when a multipart upload is stale. No network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcli.errors import RemoteUsageError
from dlcli.remote.url import check_endpoint_url, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@127.0.0.1:9000", "http://user:***@127.0.0.1:9000"),
        ("https://user:p@ss@host/path?x=1", "https://user:***@host/path?x=1"),  # "@" inside the password
        ("http://user:pa/ss@host:1", "http://user:***@host:1"),  # an unescaped "/" must not leak either
        ("http://token@host", "http://token@host"),  # no password
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/"),
        ("not a url", "not a url"),
        ("", ""),
        (
            'Could not connect to the endpoint URL: "http://u:secret@127.0.0.1:9/b?list-type=2"',
            'Could not connect to the endpoint URL: "http://u:***@127.0.0.1:9/b?list-type=2"',
        ),
        ("a http://u:x@h and https://v:y@k", "a http://u:***@h and https://v:***@k"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


_PASSWORD = st.text(st.characters(codec="ascii", categories=("L", "N", "P", "S")), min_size=4).filter(
    lambda p: not set(p) & set("?#'\"<>")
)


@given(user=st.from_regex(r"[a-z]{1,8}", fullmatch=True), password=_PASSWORD)
def test_a_password_never_survives_redaction(user: str, password: str) -> None:
    shown = redact_url(f"http://{user}:{password}@127.0.0.1:9000/bucket")
    assert shown == f"http://{user}:***@127.0.0.1:9000/bucket"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com", "HTTP://minio.local", "http://[::1]:9000/"]
)
def test_valid_endpoints_pass(url: str) -> None:
    assert check_endpoint_url(f" {url} ", "AWS_ENDPOINT_URL") == url


@pytest.mark.parametrize("url", ["s3://bucket", "http//host", "http://host:port", "https://a b", "file:///tmp"])
def test_invalid_endpoints_fail(url: str) -> None:
    with pytest.raises(RemoteUsageError, match="Invalid S3 endpoint URL"):
        check_endpoint_url(url, "AWS_ENDPOINT_URL")


def client_error(status: int, headers: dict[str, str], code: str | None = None) -> Exception:
    from botocore.exceptions import ClientError

    error = {"Code": code or str(status), "Message": "Not Found"}
    meta = {"HTTPStatusCode": status, "HTTPHeaders": headers}
    return ClientError({"Error": error, "ResponseMetadata": meta}, "HeadObject")


@pytest.mark.parametrize(
    ("exc", "foreign"),
    [
        # moto's HEAD of a missing key: an HTML content type, but an x-amzn request id
        (client_error(404, {"content-type": "text/html; charset=utf-8", "x-amzn-requestid": "r"}), False),
        (client_error(404, {"x-amz-request-id": "r"}), False),  # S3 and rclone: no body on HEAD
        (client_error(404, {"content-type": "application/xml"}, code="NoSuchKey"), False),
        (client_error(503, {"content-type": "application/xml"}, code="SlowDown"), False),  # a proxy's S3 XML
        (client_error(404, {"content-type": "text/html;charset=utf-8", "server": "SimpleHTTP"}), True),
        (client_error(405, {"content-type": "text/plain"}), True),
    ],
)
def test_a_web_servers_answer_is_told_from_an_s3_servers(exc: Exception, foreign: bool) -> None:
    from dlcli.remote.s3errors import is_foreign_server, is_missing

    assert is_foreign_server(exc) is foreign
    if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404 and foreign:  # type: ignore[attr-defined]
        assert not is_missing(exc)  # "No such object" would send the user the wrong way


def test_a_redirect_without_s3_headers_is_refused() -> None:
    from dlcli.remote.s3client import NotS3Answer, refuse_foreign_redirect

    page = SimpleNamespace(status_code=301, headers={"Location": "/b/", "Content-Type": "text/html"})
    with pytest.raises(NotS3Answer):
        refuse_foreign_redirect(response=(page, {}))
    s3_redirect = SimpleNamespace(status_code=301, headers={"x-amz-bucket-region": "eu-west-1"})
    refuse_foreign_redirect(response=(s3_redirect, {}))  # botocore's region redirect handles this one
    refuse_foreign_redirect(response=None)  # no answer at all: botocore's retries handle it


def test_retry_notices_name_the_object_the_reason_and_the_attempt() -> None:
    import botocore.exceptions as bx

    from dlcli.remote.s3client import RetryNotices

    def attempt(n: int) -> None:
        request = SimpleNamespace(context={**context, "retries": {"attempt": n}})
        notices.announce(request=request, operation_name="GetObject")

    lines: list[str] = []
    notices = RetryNotices(lines.append, "http://u:secret@127.0.0.1:9", (10.0, 2.0))
    context: dict = {}
    notices.remember_target(params={"Bucket": "b", "Key": "p/a.txt"}, context=context)
    attempt(1)
    assert lines == []  # the first attempt is no retry
    timeout = bx.ReadTimeoutError(endpoint_url="http://u:secret@127.0.0.1:9/b/p/a.txt")
    notices.remember_failure(request_dict={"context": context}, response=None, caught_exception=timeout)
    attempt(2)
    answer = (SimpleNamespace(status_code=503), {"Error": {"Code": "SlowDown"}})
    notices.remember_failure(request_dict={"context": context}, response=answer, caught_exception=None)
    attempt(3)
    where = "s3://b/p/a.txt (endpoint http://u:***@127.0.0.1:9)"
    assert lines == [
        f"Retrying GetObject for {where}: no answer within 2 s; attempt 2 of 5.",
        f"Retrying GetObject for {where}: HTTP 503 SlowDown; attempt 3 of 5.",
    ]


NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("initiated", "newest_part", "stale"),
    [
        (NOW - timedelta(hours=2), None, True),  # started long ago, never a part
        (NOW - timedelta(minutes=5), None, False),  # just started: maybe a concurrent push
        (NOW - timedelta(days=3), NOW - timedelta(minutes=1), False),  # a long upload, still sending
        (NOW - timedelta(days=3), NOW - timedelta(hours=2), True),  # its writer went away
    ],
)
def test_when_a_multipart_upload_is_stale(initiated: datetime, newest_part: datetime | None, stale: bool) -> None:
    from dlcli.remote.s3uploads import is_stale

    assert is_stale(initiated, newest_part, NOW, 3600) is stale


@pytest.mark.parametrize(
    ("name", "internal"),
    [
        (".dlcli-tmp-0000abcd-1-ffff-model.h5", True),
        (".model.h5.1a2b3c4d.tmp", True),
        ("sub/.preds.csv.tmp", True),
        ("model.h5.tmp", False),  # not hidden: could be the user's
        (".env", False),
        ("model.h5", False),
    ],
)
def test_temporary_names_are_internal(name: str, internal: bool) -> None:
    from dlcli.remote.paths import is_internal

    assert is_internal(name) is internal
