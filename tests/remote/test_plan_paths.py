"""Pure tests: sync planning over pairs of file states, and path safety. No network."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcli.errors import RemoteError
from dlcli.remote.paths import check_relative_key, safe_destination
from dlcli.remote.plan import Action, FileState, Op, plain_md5, plan

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
        (
            FileState(4, "a" * 64, None, "e" * 32 + "-2"),
            FileState(4, None, None, "e" * 32 + "-2"),
            Op.SKIP,
        ),  # ETag reproduced
        (FileState(4, "a" * 64, None, "e" * 32 + "-2"), FileState(4, None, None, "f" * 32 + "-2"), Op.TRANSFER),
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
