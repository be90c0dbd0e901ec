"""Real MPI ranks: MPICH's fork launcher next to this Python, shared memory only, with a timeout.

A missing mpi extra fails these tests in CI (DLCLI_REQUIRE_MPI=1), and skips them elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dlcli.parallel.launch import LAUNCHERS, STDIO_VARIABLE, local_environment

TIMEOUT = 240  # seconds for one job: a hung rank fails the test instead of CI


def _launcher() -> Path | None:
    here = Path(sys.executable).parent
    return next((here / n for n in LAUNCHERS if (here / n).is_file()), None)


@pytest.fixture(scope="session")
def mpiexec() -> Path:
    found = _launcher()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        if os.environ.get("CI") or os.environ.get("DLCLI_REQUIRE_MPI"):
            pytest.fail("mpiexec/mpi4py are not installed next to this Python: pip install -e '.[test]'")
        pytest.skip("the mpi extra is not installed")
    return found


@pytest.fixture
def ranks(mpiexec: Path, tmp_path: Path):
    """``ranks(n, *args)``: run ``python -m dlcli args`` (or ``-c CODE``) on n ranks; a CompletedProcess."""

    def run(n: int, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = TIMEOUT):
        return run_ranks(mpiexec, n, list(args), cwd=cwd or tmp_path, env=env, timeout=timeout)

    return run


def run_ranks(
    mpiexec: Path, n: int, args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` on ``n`` ranks; stdout and stderr in files the ranks write directly
    (as ``--workers`` does: the fork launcher's own relay breaks on non-ASCII output)."""
    cmd = [str(mpiexec), "-n", str(n), sys.executable, *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        full_env = local_environment({**os.environ, **(env or {})})
        full_env[STDIO_VARIABLE] = f"{out.fileno()},{err.fileno()}"
        code = subprocess.run(
            cmd, cwd=cwd, env=full_env, pass_fds=(out.fileno(), err.fileno()), timeout=timeout, check=False
        ).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, code, out.read(), err.read())
