"""Pure tests of the comparison strategy: same/different/unknown for pairs of file states, and
when it asks the local side for an MD5 or a multipart ETag. A fake hasher stands in for the
local files, so there is no network and no file system."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dlcli.remote import Comparator, FileState, Op, Verdict, plan

SHA_A, SHA_B = "a" * 64, "b" * 64
MD5, OTHER_MD5 = "0123456789abcdef0123456789abcdef", "f" * 32
MULTIPART = "e" * 32 + "-3"


@dataclass
class FakeHasher:
    """Answers as the local files would; records every question."""

    md5s: dict[str, str] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def md5(self, key: str) -> str | None:
        self.calls.append(("md5", key))
        return self.md5s.get(key)

    def multipart_etag(self, key: str, etag: str) -> str | None:
        self.calls.append(("multipart_etag", key, etag))
        return self.etags.get(key)


LOCAL = FileState(10, SHA_A)
OURS = FileState(10, SHA_A, None, "x" * 32 + "-2")  # an object dlcli wrote: SHA-256 from metadata/manifest
FOREIGN_MD5 = FileState(10, None, MD5, MD5)
FOREIGN_MULTIPART = FileState(10, None, None, MULTIPART)


@pytest.mark.parametrize(
    ("source", "target", "hasher", "verdict", "calls"),
    [
        (LOCAL, OURS, FakeHasher(), Verdict.SAME, []),
        (LOCAL, FileState(10, SHA_B), FakeHasher(), Verdict.DIFFERENT, []),
        (LOCAL, FileState(11, None, MD5, MD5), FakeHasher(), Verdict.DIFFERENT, []),  # size settles it: no hashing
        (LOCAL, FOREIGN_MD5, FakeHasher(md5s={"k": MD5}), Verdict.SAME, [("md5", "k")]),
        (LOCAL, FOREIGN_MD5, FakeHasher(md5s={"k": OTHER_MD5}), Verdict.DIFFERENT, [("md5", "k")]),
        (FOREIGN_MD5, LOCAL, FakeHasher(md5s={"k": MD5}), Verdict.SAME, [("md5", "k")]),  # pull: foreign source
        (
            LOCAL,
            FOREIGN_MULTIPART,
            FakeHasher(etags={"k": MULTIPART}),
            Verdict.SAME,
            [("multipart_etag", "k", MULTIPART)],
        ),
        (  # no likely part size reproduces it: maybe another part size, so unknown, not different
            FOREIGN_MULTIPART,
            LOCAL,
            FakeHasher(),
            Verdict.UNKNOWN,
            [("multipart_etag", "k", MULTIPART)],
        ),
        (LOCAL, FileState(10, None, None, "opaque-etag"), FakeHasher(), Verdict.UNKNOWN, []),  # e.g. SSE-KMS
        (FileState(10, None, MD5, MD5), FileState(10, None, MD5, MD5), FakeHasher(), Verdict.SAME, []),
        (FOREIGN_MULTIPART, FOREIGN_MULTIPART, FakeHasher(), Verdict.UNKNOWN, []),  # nothing local to hash
    ],
)
def test_verdicts_and_when_the_hasher_is_asked(
    source: FileState, target: FileState, hasher: FakeHasher, verdict: Verdict, calls: list[tuple[str, ...]]
) -> None:
    assert Comparator(hasher).compare("k", source, target) is verdict
    assert hasher.calls == calls


def test_without_a_hasher_foreign_objects_are_unknown() -> None:
    assert Comparator().compare("k", LOCAL, FOREIGN_MD5) is Verdict.UNKNOWN
    assert Comparator().compare("k", LOCAL, FOREIGN_MULTIPART) is Verdict.UNKNOWN


def test_quoted_upper_case_multipart_etag_is_normalised() -> None:
    hasher = FakeHasher(etags={"k": MULTIPART})
    foreign = FileState(10, None, None, f'"{MULTIPART.upper()}"')
    assert Comparator(hasher).compare("k", LOCAL, foreign) is Verdict.SAME
    assert hasher.calls == [("multipart_etag", "k", MULTIPART)]


def test_plan_hashes_only_the_pairs_that_need_it() -> None:
    """Of a mixed listing, only the same-size foreign objects cost a local hash."""
    hasher = FakeHasher(md5s={"equal.bin": MD5}, etags={"big.bin": MULTIPART})
    local = {
        "ours.txt": LOCAL,
        "equal.bin": LOCAL,
        "resized.bin": FileState(99, SHA_A),
        "big.bin": LOCAL,
        "new.txt": LOCAL,
    }
    remote = {
        "ours.txt": OURS,
        "equal.bin": FOREIGN_MD5,
        "resized.bin": FOREIGN_MD5,
        "big.bin": FOREIGN_MULTIPART,
        "gone.txt": FOREIGN_MD5,
    }
    actions = plan(local, remote, delete=True, compare=Comparator(hasher).compare)
    assert {a.key: a.op for a in actions} == {
        "big.bin": Op.SKIP,
        "equal.bin": Op.SKIP,
        "new.txt": Op.TRANSFER,
        "ours.txt": Op.SKIP,
        "resized.bin": Op.TRANSFER,
        "gone.txt": Op.DELETE,
    }
    assert sorted(hasher.calls) == [("md5", "equal.bin"), ("multipart_etag", "big.bin", MULTIPART)]
