"""Remote error messages name settings (``remote.endpoint_url``), never a flag: the library does
not know whether the shell called it; the CLI boundary renders each mention as its flag.
No network: botocore's exceptions are built by hand."""

from __future__ import annotations

import re

import pytest

from dlcli.errors import DlcliError, RemoteUsageError
from dlcli.remote import parse_remote
from dlcli.remote.s3errors import translate

FLAG_OR_SECTION = re.compile(r"--[a-z]|\[remote\]|dlcli pull")


def client_error(code: str, message: str = "") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "PutObject")


def botocore_errors() -> list[Exception]:
    import botocore.exceptions as bx

    return [
        bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        bx.NoCredentialsError(),
        bx.ProfileNotFound(profile="nope"),
        client_error("NoSuchBucket"),
        client_error("SignatureDoesNotMatch"),
        client_error("AccessDenied"),
        client_error("InvalidRequest", "checksum type is not supported"),
    ]


def mentions(error: DlcliError) -> list[str]:
    """The settings an error names, as the CLI boundary sees them."""
    found: list[str] = []
    error.rendered(lambda key, value: found.append(key) or key)
    return found


@pytest.mark.parametrize("exc", botocore_errors(), ids=lambda e: type(e).__name__ + ":" + str(e)[:30])
def test_translated_errors_name_settings_not_flags(exc: Exception) -> None:
    error = translate(exc, "bucket-x", "p/a.txt", "http://127.0.0.1:9")
    assert not FLAG_OR_SECTION.search(error.message + (error.hint or "")), (error.message, error.hint)


def test_which_settings_the_hints_name() -> None:
    endpoint, no_credentials, profile, bucket, signature, denied, checksum = (
        translate(e, "bucket-x", "k", None) for e in botocore_errors()
    )
    assert mentions(endpoint) == ["remote.endpoint_url"]
    assert endpoint.hint == "Check remote.endpoint_url (or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)."
    assert mentions(no_credentials) == mentions(signature) == mentions(denied) == ["remote.profile"]
    assert "AWS_ACCESS_KEY_ID" in (no_credentials.hint or "")
    assert mentions(profile) == ["remote.profile"]
    assert mentions(bucket) == ["remote.endpoint_url"]
    assert mentions(checksum) == ["remote.checksum"]
    assert checksum.hint and checksum.hint.endswith("set remote.checksum=when_required.")
    assert checksum.rendered(lambda key, value: f"--checksum {value}")[1] == (
        "Some S3-compatible stores reject boto3's default checksums: set --checksum when_required."
    )


def test_unsupported_scheme_names_the_endpoint_setting() -> None:
    with pytest.raises(RemoteUsageError) as info:
        parse_remote("gs://bucket/p")
    assert mentions(info.value) == ["remote.endpoint_url"]
    assert not FLAG_OR_SECTION.search(info.value.hint or "")
