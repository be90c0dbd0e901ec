"""The S3 store's boto3 client: profile, endpoint, timeouts, retries, and retry notices.

botocore retries a failed request itself (standard mode, :data:`MAX_ATTEMPTS` attempts with
jittered backoff) and says nothing while it does. :class:`RetryNotices` hooks three of its
events so the user hears of each retry: ``before-parameter-build`` remembers which object a
call is about, ``needs-retry`` (after each attempt) why the attempt failed, and
``request-created`` — which fires again only when botocore has decided to retry — announces
it. Nothing is patched: the hooks only read.

One more hook guards against a server that is not S3 at all: a web server's redirect (a
directory URL without its trailing slash) sends botocore's region redirector into an
endless HeadBucket loop, so a redirect without any ``x-amz*`` header ends the call as a
:class:`NotS3Answer` before the redirector sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions as bx  # this module is imported on the S3 path only

from dlcli.remote.s3errors import error_kind, profile_error, transfer_errors, translate, where
from dlcli.remote.settings import MAX_ATTEMPTS, SyncOptions, checksum_modes, timeouts

# Keys of botocore's per-request context dict (shared by every attempt of one call).
_TARGET = "dlcli_target"
_FAILURE = "dlcli_failure"


def make_client(options: SyncOptions, bucket: str, endpoint: str | None) -> Any:
    """A boto3 S3 client for ``endpoint`` with dlcli's timeouts, retries and checksum mode.

    An unknown profile is a usage error naming it; retries are told to ``options.on_notice``.
    """
    import boto3
    import botocore.exceptions as bx
    from botocore.config import Config

    waits = timeouts(options)
    request, response = checksum_modes(options)
    config = Config(
        connect_timeout=waits[0],
        read_timeout=waits[1],
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        max_pool_connections=max(10, options.jobs + 2),
        request_checksum_calculation=request,
        response_checksum_validation=response,
    )
    try:
        session = boto3.session.Session(profile_name=options.profile or None)
        client = session.client("s3", endpoint_url=endpoint, config=config)
    except bx.ProfileNotFound as exc:  # --profile, or AWS_PROFILE, names no profile
        raise profile_error(str(exc.kwargs.get("profile", "")), given=bool(options.profile)) from exc
    except transfer_errors(ValueError) as exc:  # ValueError: an endpoint botocore still rejects
        raise translate(exc, bucket, None, endpoint, waits) from exc
    client.meta.events.register_first("needs-retry.s3", refuse_foreign_redirect, unique_id="dlcli-not-s3")
    if options.on_notice is not None:
        RetryNotices(options.on_notice, endpoint, waits).install(client.meta.events)
    return client


class NotS3Answer(bx.BotoCoreError):  # type: ignore[misc]  # botocore has no type hints
    """The server answered something no S3 server sends (see :func:`refuse_foreign_redirect`)."""

    fmt = "the server answered HTTP {status} ({content_type}) without any S3 header"
    foreign_server = True  # what s3errors.is_foreign_server looks for

    def __init__(self, status: int, content_type: str) -> None:
        super().__init__(status=status, content_type=content_type or "no content type")
        self.status = status
        self.content_type = content_type


def refuse_foreign_redirect(response: Any, **_: Any) -> None:
    """Raise :class:`NotS3Answer` for a redirect without any ``x-amz*`` header (S3's own
    redirects carry ``x-amz-bucket-region`` and a request id)."""
    http = response[0] if isinstance(response, tuple) else None
    status = int(getattr(http, "status_code", 0) or 0)
    if 300 <= status < 400:
        headers = {str(k).lower(): str(v) for k, v in getattr(http, "headers", {}).items()}
        if not any(name.startswith("x-amz") for name in headers):
            raise NotS3Answer(status, headers.get("content-type", "").split(";")[0].strip())


class RetryNotices:
    """Calls ``notify`` with one line each time botocore retries a request.

    Parameters
    ----------
    notify : callable
        Receives e.g. ``"Retrying ListObjectsV2 for s3://b/p/ (endpoint …): no answer within
        30 s; attempt 2 of 5."``.
    endpoint : str or None
        How messages name the endpoint (redacted by :func:`~dlcli.remote.s3errors.where`).
    waits : (float, float)
        The connect and read timeouts, named when an attempt timed out.
    """

    def __init__(self, notify: Callable[[str], None], endpoint: str | None, waits: tuple[float, float]) -> None:
        self.notify = notify
        self.endpoint = endpoint
        self.waits = waits

    def install(self, events: Any) -> None:
        events.register("before-parameter-build.s3", self.remember_target, unique_id="dlcli-retry-target")
        events.register("needs-retry.s3", self.remember_failure, unique_id="dlcli-retry-failure")
        events.register("request-created.s3", self.announce, unique_id="dlcli-retry-notice")

    def remember_target(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        bucket = str(params.get("Bucket", ""))
        key = params.get("Key", params.get("Prefix"))
        context[_TARGET] = where(bucket, str(key) if key else None, self.endpoint)

    def remember_failure(
        self, request_dict: dict[str, Any], response: Any, caught_exception: BaseException | None, **_: Any
    ) -> None:
        # Returns None: the decision is botocore's retry handler's, registered on the same event.
        request_dict.get("context", {})[_FAILURE] = self.why(response, caught_exception)

    def announce(self, request: Any, operation_name: str, **_: Any) -> None:
        context = getattr(request, "context", None) or {}
        attempt = int(context.get("retries", {}).get("attempt", 1))
        if attempt > 1:
            target = context.get(_TARGET, where("?", None, self.endpoint))
            why = context.get(_FAILURE, "it failed")
            self.notify(f"Retrying {operation_name} for {target}: {why}; attempt {attempt} of {MAX_ATTEMPTS}.")

    def why(self, response: Any, caught_exception: BaseException | None) -> str:
        if caught_exception is not None:
            return error_kind(caught_exception, self.waits)
        http, parsed = response if isinstance(response, tuple) else (None, {})
        status = getattr(http, "status_code", "?")
        code = (parsed or {}).get("Error", {}).get("Code", "")
        return f"HTTP {status}" + (f" {code}" if code and code != str(status) else "")
