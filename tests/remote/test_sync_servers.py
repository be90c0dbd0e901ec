"""push/pull behaviour, the same tests against the local remote, moto and rclone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlcli.remote import pull, push


def make_tree(root: Path, n: int = 5) -> None:
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"f{i}.txt").write_bytes(f"file {i}\n".encode() * (i + 1))
    (root / "sub" / "deep.bin").write_bytes(os.urandom(3000))


def test_push_then_noop_then_pull(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, options = remote
    make_tree(tmp_path / "src")
    first = push(tmp_path / "src", url, options)
    assert sorted(first.uploaded) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "sub/deep.bin"]
    assert not first.failed
    again = push(tmp_path / "src", url, options)
    assert again.uploaded == [] and len(again.skipped) == 6
    got = pull(url, tmp_path / "out", options)
    assert sorted(got.downloaded) == sorted(first.uploaded) and not got.failed
    assert (tmp_path / "out" / "sub" / "deep.bin").read_bytes() == (tmp_path / "src" / "sub" / "deep.bin").read_bytes()
    assert not [p for p in (tmp_path / "out").rglob("*") if ".dlcli-" in p.name]
    assert pull(url, tmp_path / "out", options).downloaded == []


def test_same_size_edit_same_second_is_caught(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, options = remote
    src = tmp_path / "src"
    src.mkdir()
    f = src / "w.txt"
    f.write_bytes(b"aaaa")
    stamp = f.stat().st_mtime_ns
    push(src, url, options)
    f.write_bytes(b"bbbb")
    os.utime(f, ns=(stamp, stamp))  # same size, same mtime: only the content (and inode/ctime) differ
    report = push(src, url, options)
    assert report.uploaded == ["w.txt"]
    pull(url, tmp_path / "out", options)
    assert (tmp_path / "out" / "w.txt").read_bytes() == b"bbbb"


def test_dry_run_delete_and_filters(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, options = remote
    make_tree(tmp_path / "src")
    dry = push(tmp_path / "src", url, options.with_(dry_run=True))
    assert len(dry.uploaded) == 6
    assert len(push(tmp_path / "src", url, options.with_(dry_run=True)).uploaded) == 6  # nothing was written
    push(tmp_path / "src", url, options.with_(exclude=("sub/*",)))
    (tmp_path / "src" / "f0.txt").unlink()
    report = push(tmp_path / "src", url, options.with_(delete=True, include=("*.txt",)))
    assert report.deleted == ["f0.txt"] and report.uploaded == []
    got = pull(url, tmp_path / "out", options)
    assert sorted(got.downloaded) == ["f1.txt", "f2.txt", "f3.txt", "f4.txt"]


def test_single_file_push(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, options = remote
    (tmp_path / "model.h5").write_bytes(b"x" * 100)
    assert push(tmp_path / "model.h5", url, options).uploaded == ["model.h5"]


def test_pull_single_file_url(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, options = remote
    make_tree(tmp_path / "src")
    push(tmp_path / "src", url, options)
    got = pull(f"{url}/sub/deep.bin", tmp_path / "out", options)
    assert got.downloaded == ["deep.bin"] and not got.failed
    assert (tmp_path / "out" / "deep.bin").read_bytes() == (tmp_path / "src" / "sub" / "deep.bin").read_bytes()
    assert pull(f"{url}/sub/deep.bin", tmp_path / "out", options).skipped == ["deep.bin"]


def test_pull_of_an_empty_or_mistyped_prefix_is_an_error(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dlcli.errors import RemoteUsageError

    url, options = remote
    make_tree(tmp_path / "src")
    push(tmp_path / "src", url, options)
    with pytest.raises(RemoteUsageError, match="Nothing to pull"):
        pull(f"{url}/no-such-folder", tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_written_files_get_the_umask_mode(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Pulled (and, on a directory remote, pushed) files are 0o666 & ~umask, as open() makes
    them, not the private 0o600 of a temporary file."""
    url, options = remote
    make_tree(tmp_path / "src")
    push(tmp_path / "src", url, options)
    pull(url, tmp_path / "out", options)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    if not url.startswith("s3://"):
        written += [p for p in Path(url).rglob("*") if p.is_file()]
    assert len(written) >= 6
    assert {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in written} == {
        p.relative_to(tmp_path).as_posix(): "0o644" for p in written
    }


def test_parallel_report_is_exact_and_in_plan_order(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With jobs > 1 the report is built from the workers' results after the pool: exact totals,
    and keys in plan (sorted) order however the transfers finish. Here the first key finishes
    last: its progress callback holds its worker while the others complete."""
    import threading
    import time

    url, options = remote
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-slow.bin").write_bytes(b"s" * 10_000)
    for i in range(40):
        (src / f"f{i:02d}.txt").write_bytes(b"x" * (i + 1))
    seen: list[int] = []
    lock = threading.Lock()

    def on_bytes(n: int) -> None:
        if n == 10_000:
            time.sleep(0.5)
        with lock:
            seen.append(n)

    report = push(src, url, options.with_(jobs=4, on_bytes=on_bytes))
    expected = 10_000 + sum(range(1, 41))
    assert not report.failed and report.bytes == expected and sum(seen) == expected
    assert report.uploaded == ["a-slow.bin"] + [f"f{i:02d}.txt" for i in range(40)]
    got = pull(url, tmp_path / "out", options.with_(jobs=4, on_bytes=on_bytes))
    assert got.bytes == expected and got.downloaded == report.uploaded
