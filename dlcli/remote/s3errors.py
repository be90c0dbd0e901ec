"""Turn botocore exceptions into RemoteErrors that name bucket, key and endpoint and hint at the fix."""

from __future__ import annotations

from dlcli.errors import RemoteError, setting

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

    return (bx.BotoCoreError, bx.ClientError, b3.Boto3Error, sx.S3DownloadFailedError, sx.RetriesExceededError, *extra)


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the object does not exist (NoSuchKey on GET, a bare 404 on HEAD).

    A missing bucket is not a missing object: it has its own code (on HEAD, where S3 sends no
    body, the two cannot be told apart; the listing before it has already found the bucket).
    """
    return error_code(exc) in ("NoSuchKey", "404", "NotFound")


def where(bucket: str, key: str | None, endpoint: str | None) -> str:
    """``s3://bucket/key (endpoint …)``, as every S3 message names a location."""
    place = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    return f"{place} (endpoint {endpoint or 'AWS default'})"


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate(exc: BaseException, bucket: str, key: str | None, endpoint: str | None) -> RemoteError:
    """A RemoteError for ``exc``; the message never contains credentials."""
    import botocore.exceptions as bx
    from boto3.exceptions import S3UploadFailedError

    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, bx.ClientError):
        exc = exc.__context__  # upload_file wraps the ClientError of a multipart upload; name the real one
    place = where(bucket, key, endpoint)
    code = error_code(exc)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return RemoteError(f"Cannot reach the S3 endpoint for {place}.", hint=_ENDPOINT_HINT)
    if isinstance(exc, bx.NoCredentialsError):
        return RemoteError(f"No AWS credentials found for {place}.", hint=_CREDENTIALS_HINT)
    if isinstance(exc, bx.ProfileNotFound):
        return RemoteError(
            f"AWS profile not found: {exc}.", hint=f"Check {setting('remote.profile')} against ~/.aws/config."
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
            f"The server rejected the request for {place}: {exc}.",
            hint="Some S3-compatible stores reject boto3's default checksums: "
            f"set {setting('remote.checksum', 'when_required')}.",
        )
    if isinstance(exc, bx.BotoCoreError) or code:
        return RemoteError(f"S3 request failed for {place}: {exc}.", hint=_ENDPOINT_HINT if not code else None)
    return RemoteError(f"Transfer failed for {place}: {exc}.")
