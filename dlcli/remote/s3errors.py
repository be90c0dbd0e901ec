"""Turn botocore exceptions into RemoteErrors that name bucket, key and endpoint and hint at the fix.

Every message goes through :func:`~dlcli.remote.url.redact_url`: an endpoint URL may carry a
password, and botocore quotes the URL in its own messages.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dlcli.errors import DlcliError, RemoteError, RemoteUsageError, setting
from dlcli.remote.settings import MAX_ATTEMPTS
from dlcli.remote.url import redact_url

# Settings are named with setting(): the CLI renders each as the flag of the command that ran.
_CREDENTIALS_HINT = (
    f"Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or pick credentials with {setting('remote.profile')}."
)
_ENDPOINT_HINT = f"Check {setting('remote.endpoint_url')} (or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)."


def transfer_errors(*extra: type[Exception]) -> tuple[type[Exception], ...]:
    """What botocore, boto3 and s3transfer raise for a failed request or transfer (plus
    ``extra``): the exceptions :func:`translate` turns into a RemoteError. Anything else (a
    local I/O error, a bug) propagates unchanged. An ``except`` clause evaluates it only when
    an exception arrives, so boto3 is still imported only on the S3 paths."""
    import boto3.exceptions as b3
    import botocore.exceptions as bx
    import s3transfer.exceptions as sx
    from botocore.parsers import ResponseParserError  # an answer that is not S3's: not a BotoCoreError

    return (
        bx.BotoCoreError,
        bx.ClientError,
        ResponseParserError,
        b3.Boto3Error,
        sx.S3DownloadFailedError,
        sx.RetriesExceededError,
        *extra,
    )


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the object does not exist (NoSuchKey on GET, a bare 404 on HEAD).

    A missing bucket is not a missing object: it has its own code (on HEAD, where S3 sends no
    body, the two cannot be told apart; the listing before it has already found the bucket).
    """
    return error_code(exc) in ("NoSuchKey", "404", "NotFound") and not is_foreign_server(exc)


def is_foreign_server(exc: BaseException) -> bool:
    """Whether ``exc`` is an answer no S3 server gives: a body botocore could not parse as S3
    XML, or an error without an S3 error code, without any ``x-amz*`` header and not XML (a
    web server's HTML "404 Not Found"). S3 servers send ``x-amz-request-id`` (moto:
    ``x-amzn-requestid``) even on a HEAD, which has no body to carry an error code."""
    import botocore.exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError) or getattr(exc, "foreign_server", False):
        return True
    response = getattr(exc, "response", None)
    if not isinstance(exc, bx.ClientError) or not isinstance(response, dict):
        return False
    headers = {str(k).lower(): str(v) for k, v in response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).items()}
    if any(name.startswith("x-amz") for name in headers):
        return False
    code = error_code(exc)
    return (not code or code.isdigit()) and "xml" not in headers.get("content-type", "")


def _http_status(exc: BaseException) -> str:
    if getattr(exc, "foreign_server", False):  # s3client.NotS3Answer
        kind = getattr(exc, "content_type", "")
        return f"HTTP {getattr(exc, 'status', '?')}" + (f" ({kind})" if kind else "") + " without any S3 header"
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    kind = str(headers.get("content-type", "")).split(";")[0].strip()
    if status is None:
        return "something that is not S3 XML"
    return f"HTTP {status}" + (f" ({kind})" if kind else "") + ", not S3 XML"


def where(bucket: str, key: str | None, endpoint: str | None) -> str:
    """``s3://bucket/key (endpoint …)``, as every S3 message names a location."""
    place = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    return f"{place} (endpoint {redact_url(endpoint) if endpoint else 'AWS default'})"


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate(
    exc: BaseException,
    bucket: str,
    key: str | None,
    endpoint: str | None,
    timeouts: tuple[float, float] | None = None,
) -> DlcliError:
    """A RemoteError for ``exc`` (a RemoteUsageError for an unknown profile); the message never
    contains credentials. ``timeouts`` (connect, read) are named when the server did not answer."""
    import botocore.exceptions as bx
    from boto3.exceptions import S3UploadFailedError

    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, bx.ClientError):
        exc = exc.__context__  # upload_file wraps the ClientError of a multipart upload; name the real one
    place = where(bucket, key, endpoint)
    target = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"  # for messages naming the endpoint first
    code = error_code(exc)
    shown = redact_url(endpoint) if endpoint else "of AWS"
    text = redact_url(str(exc))  # botocore quotes the endpoint URL, password and all
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)) and timeouts is not None:
        connecting = isinstance(exc, bx.ConnectTimeoutError)
        waited = timeouts[0] if connecting else timeouts[1]
        what = "could not be connected to" if connecting else "accepted the connection but did not answer"
        return RemoteError(
            f"The S3 endpoint {shown} {what} within {waited:g} s ({MAX_ATTEMPTS} attempts) for {target}.",
            hint=f"Check that {setting('remote.endpoint_url')} is the S3 API's address and the server is up; "
            f"for a slow server raise {setting('remote.timeout', 'SECONDS')} (or DLCLI_REMOTE_TIMEOUT; "
            f"now {timeouts[1]:g}).",
        )
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return RemoteError(f"Cannot reach the S3 endpoint for {place}.", hint=_ENDPOINT_HINT)
    if isinstance(exc, bx.NoCredentialsError):
        return RemoteError(f"No AWS credentials found for {place}.", hint=_CREDENTIALS_HINT)
    if isinstance(exc, bx.ProfileNotFound):
        profile = str(exc.kwargs.get("profile", ""))
        return profile_error(profile, given=os.environ.get("AWS_PROFILE") != profile)
    if is_foreign_server(exc):
        return RemoteError(
            f"The endpoint {shown} does not look like an S3 server: for {target} it answered {_http_status(exc)}.",
            hint=f"Check {setting('remote.endpoint_url')}: it must be the S3 API's address "
            "(for MinIO, the API port, not the console's).",
        )
    if code in ("NoSuchBucket",):
        return RemoteError(
            f"No such bucket '{bucket}' at {place}.",
            hint=f"Create the bucket first, or check the URL and {setting('remote.endpoint_url')}.",
        )
    if code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidClientTokenId", "AuthorizationHeaderMalformed"):
        return RemoteError(f"The server rejected the credentials ({code}) for {place}.", hint=_CREDENTIALS_HINT)
    if code in ("AccessDenied", "403", "Forbidden"):
        return RemoteError(
            f"Access denied to {place}.", hint="Check the bucket policy and your credentials: " + _CREDENTIALS_HINT
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return RemoteError(f"No such object {place}.", hint="List the prefix, or check the URL.")
    if code in ("InvalidRequest", "XAmzContentSHA256Mismatch", "BadDigest") or "checksum" in str(exc).lower():
        return RemoteError(
            f"The server rejected the request for {place}: {text}.",
            hint="Some S3-compatible stores reject boto3's default checksums: "
            f"set {setting('remote.checksum', 'when_required')}.",
        )
    if isinstance(exc, bx.BotoCoreError) or code:
        return RemoteError(f"S3 request failed for {place}: {text}.", hint=_ENDPOINT_HINT if not code else None)
    return RemoteError(f"Transfer failed for {place}: {text}.")


def profile_error(profile: str, *, given: bool) -> RemoteUsageError:
    """The usage error for an AWS profile no config or credentials file defines.

    ``given``: the profile came from ``remote.profile`` (else from ``AWS_PROFILE``).
    """
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    known = _known_profiles()
    source = setting("remote.profile") if given else "AWS_PROFILE"
    listed = ", ".join(known) if known else "none"
    return RemoteUsageError(
        f"AWS profile '{profile}' (from {source}) is not defined in {config} or {credentials}; "
        f"profiles defined there: {listed}.",
        hint=f"Add a [profile {profile}] section to {config}"
        + (", or name one of those" if known else "")
        + "; AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE choose other files.",
    )


def _known_profiles() -> list[str]:
    import botocore.exceptions as bx
    import botocore.session

    try:
        # Listing the profiles reads both files without looking the missing one up.
        session: Any = botocore.session.Session()
        return sorted(session.available_profiles)
    except (OSError, ValueError, bx.BotoCoreError):  # unreadable: the message still names where they come from
        return []


def error_kind(exc: BaseException, timeouts: tuple[float, float]) -> str:
    """A few words on why an attempt failed, for the line that says it is retried."""
    import botocore.exceptions as bx

    if isinstance(exc, bx.ReadTimeoutError):
        return f"no answer within {timeouts[1]:g} s"
    if isinstance(exc, bx.ConnectTimeoutError):
        return f"no connection within {timeouts[0]:g} s"
    if isinstance(exc, bx.EndpointConnectionError):
        return "cannot connect"
    if isinstance(exc, bx.ConnectionClosedError):
        return "the connection was closed without an answer"
    return re.sub(r"\s+", " ", redact_url(f"{type(exc).__name__}: {exc}"))[:200]
