"""``--workers N``: start N local ranks of this same command under the mpiexec the ``mpi``
extra installs next to this Python (MPICH's fork launcher), on shared memory only.

The launcher is found beside ``sys.executable``, never on PATH, so the ranks run this
installation of dlcli with this interpreter. Local ranks need no network: MPICH is told to
use its shared-memory transport (``MPIR_CVAR_CH4_NETMOD=ofi`` with ``FI_PROVIDER=shm``) and
the fork launcher talks to its children over inherited pipes, so nothing listens on a port.
A user's own settings of these variables win.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from dlcli.errors import ConfigError

LAUNCHERS = ("mpiexec.gforker", "mpiexec")  # the fork launcher first: no listening socket
LOCAL_ONLY = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "shm"}
INSTALL_HINT = "Install the MPI extra: pip install 'dlcli[mpi]'."
STDIO_VARIABLE = "DLCLI_RANK_STDIO"  # "OUT,ERR": inherited descriptors a rank writes to (see cli/app.py)


def launcher() -> Path:
    """The mpiexec next to this Python."""
    here = Path(sys.executable).parent
    for name in LAUNCHERS:
        if (here / name).is_file():
            return here / name
    raise ConfigError(f"--workers needs mpiexec next to {sys.executable}, and there is none.", hint=INSTALL_HINT)


def local_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    for key, value in LOCAL_ONLY.items():
        env.setdefault(key, value)
    return env


def command(workers: int, argv: Sequence[str]) -> list[str]:
    """The mpiexec command line running ``python -m dlcli argv`` on ``workers`` local ranks."""
    if importlib.util.find_spec("mpi4py") is None:
        raise ConfigError("--workers needs mpi4py, which is not installed.", hint=INSTALL_HINT)
    return [str(launcher()), "-n", str(workers), sys.executable, "-m", "dlcli", *argv]


def without_option(argv: Sequence[str], name: str) -> list[str]:
    """``argv`` without ``name VALUE`` / ``name=VALUE`` (the ranks must not launch again)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


def relaunch(workers: int, argv: Sequence[str]) -> int:
    """Run this command on ``workers`` local ranks and wait; the job's exit code.

    The launcher replaces nothing: this process waits, so Ctrl-C reaches the ranks once,
    through the launcher (which forwards SIGINT), and the exit code is the launcher's.
    """
    import signal
    import subprocess

    cmd = command(workers, without_option(argv, "--workers"))
    out, err = os.dup(1), os.dup(2)
    env = local_environment()
    env[STDIO_VARIABLE] = f"{out},{err}"
    # The ranks get SIGINT from the launcher, once; this process only waits for it to end.
    process = subprocess.Popen(cmd, env=env, pass_fds=(out, err), start_new_session=True)
    previous = signal.signal(signal.SIGINT, lambda *_: process.send_signal(signal.SIGINT))
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        os.close(out)
        os.close(err)
