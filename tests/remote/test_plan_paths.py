"""Pure tests: sync planning over pairs of file states, the manifest, and path safety. No network.

The comparison of objects other tools wrote (MD5 and multipart ETags) is in test_compare.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcli.errors import RemoteError
from dlcli.remote import Action, FileState, Op, plan
from dlcli.remote.compare import plain_md5
from dlcli.remote.paths import check_relative_key, safe_destination

A = FileState(4, "a" * 64)
B = FileState(4, "b" * 64)


@pytest.mark.parametrize(
    ("source", "target", "op"),
    [
        (A, None, Op.TRANSFER),  # missing on the target
        (A, A, Op.SKIP),  # same content
        (A, B, Op.TRANSFER),  # same size, different content
        (A, FileState(5, "a" * 64), Op.TRANSFER),  # size differs
        (FileState(4, "a" * 64, "m" * 32), FileState(4, None, "m" * 32), Op.SKIP),  # foreign, equal MD5 ETag
        (FileState(4, "a" * 64, "m" * 32), FileState(4, None, "n" * 32), Op.TRANSFER),  # foreign, different MD5
        (A, FileState(4, None, None, "abc-2"), Op.TRANSFER),  # multipart ETag, no hash: unknown is different
        (A, FileState(4, None, None, "e" * 32 + "-2"), Op.TRANSFER),  # no hasher to reproduce it: unknown
    ],
)
def test_plan_single_file(source: FileState, target: FileState | None, op: Op) -> None:
    assert plan({"k": source}, {"k": target} if target else {}) == [Action(op, "k", source.size)]


def test_plan_delete_only_when_asked() -> None:
    assert plan({}, {"old": A}) == []
    assert plan({}, {"old": A}, delete=True) == [Action(Op.DELETE, "old", 4)]


def test_multipart_etag_found_for_a_likely_part_size(tmp_path: Path) -> None:
    import hashlib

    from dlcli.remote.hashing import multipart_etag

    mib = 1024 * 1024
    data = bytes(range(256)) * (4 * 4096 + 7)  # 4 MiB + 1792 bytes: parts of 8 MiB would be 1, of 1 MiB 5
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    parts = [data[i : i + mib] for i in range(0, len(data), mib)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"
    assert multipart_etag(path, etag) == etag  # 1 MiB is not a common size: derived from size / parts
    assert multipart_etag(path, "0" * 32 + f"-{len(parts)}") is None
    assert multipart_etag(path, etag[:-1] + "9") is None  # no part size gives 9 parts


def test_plain_md5() -> None:
    assert plain_md5('"0123456789abcdef0123456789abcdef"') == "0123456789abcdef0123456789abcdef"
    assert plain_md5('"0123456789abcdef0123456789abcdef-3"') is None
    assert plain_md5(None) is None


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\b", "C:x", ""])
def test_unsafe_keys_refused(key: str) -> None:
    with pytest.raises(RemoteError):
        check_relative_key(key)


def test_symlink_inside_destination_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(RemoteError, match="symbolic link"):
        safe_destination(tmp_path / "dest", "link/file")
    assert safe_destination(tmp_path / "dest", "a/b") == tmp_path / "dest" / "a" / "b"


def test_manifest_round_trip_and_trust() -> None:
    from dlcli.remote import manifest

    states = {"a": FileState(4, "a" * 64, None, "e1"), "foreign": FileState(3, None, "m" * 32, "m" * 32)}
    parsed = manifest.parse(manifest.render(states))
    assert parsed == {"a": FileState(4, "a" * 64, None, "e1")}  # only what has a SHA-256
    assert manifest.trusted_sha256(parsed["a"], 4, "e1") == "a" * 64
    assert manifest.trusted_sha256(parsed["a"], 4, "e2") is None  # overwritten since: ETag changed
    assert manifest.trusted_sha256(parsed["a"], 5, "e1") is None
    assert manifest.trusted_sha256(None, 4, "e1") is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"files": []}',
        b'{"files": {"k": "not an entry"}}',
        b'{"files": {"k": {"size": "4", "sha256": "' + b"a" * 64 + b'", "etag": "e"}}}',
        b'{"files": {"k": {"size": 4, "sha256": "short", "etag": "e"}}}',
    ],
)
def test_foreign_or_damaged_manifest_has_no_entries(body: bytes) -> None:
    from dlcli.remote import manifest

    assert manifest.parse(body) == {}
