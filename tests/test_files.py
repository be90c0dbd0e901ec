"""Atomic writes and the sweep of temporary files left by killed processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcli.files import STALE_TEMP_SECONDS, TEMP_PREFIX, AtomicFile, is_temporary, sweep_temporary, write_text


def _temp_of_a_killed_process(directory: Path) -> Path:
    """A temporary file made by a process that then died without cleaning up."""
    code = (
        "import os, sys; from dlcli.files import AtomicFile; "
        "f = AtomicFile(sys.argv[1]); f.temp.write_bytes(b'half'); os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code, str(directory / "model.h5")], check=False, timeout=60)
    (temp,) = [p for p in directory.iterdir() if is_temporary(p.name)]
    return temp


def test_a_dead_writers_temporary_file_is_swept_at_once(tmp_path: Path) -> None:
    temp = _temp_of_a_killed_process(tmp_path)
    assert sweep_temporary(tmp_path) == 1
    assert not temp.exists()


def test_a_live_writers_temporary_file_is_kept_until_stale(tmp_path: Path) -> None:
    live = AtomicFile(tmp_path / "model.h5")  # this process: alive
    foreign = tmp_path / f"{TEMP_PREFIX}0000abcd-1-ffff-model.h5"  # another host's, recent
    foreign.write_bytes(b"x")
    assert sweep_temporary(tmp_path) == 0
    assert live.temp.exists() and foreign.exists()
    os.utime(foreign, (time.time() - STALE_TEMP_SECONDS - 5,) * 2)
    assert sweep_temporary(tmp_path) == 1 and not foreign.exists() and live.temp.exists()
    live.discard()


def test_final_files_are_never_swept(tmp_path: Path) -> None:
    final = write_text(tmp_path / "config.toml", "x = 1\n")
    os.utime(final, (time.time() - STALE_TEMP_SECONDS - 5,) * 2)
    assert sweep_temporary(tmp_path, older_than=-1) == 0 and final.exists()


def test_writing_over_a_directory_names_it_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError, match="Cannot write a file over a directory"):
        AtomicFile(tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_next_write_into_a_directory_sweeps_it(tmp_path: Path) -> None:
    temp = _temp_of_a_killed_process(tmp_path)
    code = "import sys; from dlcli.files import write_text; write_text(sys.argv[1], 'x')"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other.txt")], check=True, timeout=60)
    assert not temp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]


def test_an_earlier_releases_temporary_files_are_swept_once_stale(tmp_path: Path) -> None:
    old = [tmp_path / ".model.h5.1a2b3c4d.tmp", tmp_path / ".p.csv.0badc0de.part-0001.tmp"]
    mine = tmp_path / ".notes.tmp"  # a user's own hidden file: not dlcli's to remove
    for path in [*old, mine]:
        path.write_bytes(b"x")
        os.utime(path, (time.time() - STALE_TEMP_SECONDS - 5,) * 2)
    assert sweep_temporary(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == [".notes.tmp"]
