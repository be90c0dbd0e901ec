"""The process group a command runs in: one process, or the ranks of an MPI job.

dlcli does not run its own cluster protocol: under ``mpiexec``/``srun`` (MPICH, Open MPI,
Intel MPI, Slurm's PMI) every rank runs the same command line and mpi4py connects them.
Whether this process is one of several ranks is read from the launcher's environment
*before* importing mpi4py, so a plain ``dlcli train`` never loads MPI (and runs without the
``mpi`` extra installed).

A :class:`World` is what the engine needs of the group, nothing more: an in-place sum of a
buffer (the gradients, once per step), gathering small Python values (metric sums, errors)
and a broadcast (the fitted schema). :class:`Solo` is the one-process world.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NoReturn, Protocol

import numpy as np

from dlcli.errors import ConfigError

# Launcher variables giving the number of ranks, by implementation. Checked in this order;
# Slurm's only counts under srun (a batch script's own shell has SLURM_NTASKS too).
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
SWITCH = "DLCLI_MPI"  # "auto" (default), "1" to force MPI, "0" to never start it


class World(Protocol):
    rank: int
    size: int
    local_rank: int  # on this machine
    local_size: int

    def allreduce(self, buffer: np.ndarray) -> None:
        """Sum ``buffer`` over all ranks, in place (every rank gets the sum)."""
        ...

    def allgather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (small values only: they are pickled in memory)."""
        ...

    def bcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        ...

    def barrier(self) -> None: ...

    def local_barrier(self) -> None:
        """Wait for the ranks on this machine only."""
        ...

    def abort(self, code: int) -> NoReturn:
        """End every rank of the job now (a rank that cannot agree with the others)."""
        ...


class Solo:
    """The one-process world: every collective is the identity."""

    rank = 0
    size = 1
    local_rank = 0
    local_size = 1

    def allreduce(self, buffer: np.ndarray) -> None:
        pass

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def bcast(self, value: Any) -> Any:
        return value

    def barrier(self) -> None:
        pass

    def local_barrier(self) -> None:
        pass

    def abort(self, code: int) -> NoReturn:
        raise SystemExit(code)


class MPIWorld:
    """``MPI.COMM_WORLD`` through mpi4py (imported here, at first use)."""

    def __init__(self) -> None:
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = self.local.Get_rank(), self.local.Get_size()

    def allreduce(self, buffer: np.ndarray) -> None:
        self.comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)

    def allgather(self, value: Any) -> list[Any]:
        return list(self.comm.allgather(value))

    def bcast(self, value: Any) -> Any:
        return self.comm.bcast(value, root=0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def local_barrier(self) -> None:
        self.local.Barrier()

    def abort(self, code: int) -> NoReturn:
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: Abort ends this process too


def launched_size(environ: Mapping[str, str] | None = None) -> int:
    """The number of ranks the launcher started, from its environment (1 when not launched)."""
    env = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        value = env.get(name, "")
        if value.isdigit():
            return int(value)
    if "SLURM_STEP_NUM_TASKS" in env and "PMI_FD" in env:
        return int(env["SLURM_STEP_NUM_TASKS"])
    return 1


_current: World | None = None


def current(environ: Mapping[str, str] | None = None) -> World:
    """This process's world, started once: MPI when launched as one of several ranks."""
    global _current
    if _current is None:
        _current = _start(os.environ if environ is None else environ)
    return _current


def started() -> World | None:
    """The world if a command has started it (the error boundary asks), else ``None``."""
    return _current


def _start(env: Mapping[str, str]) -> World:
    switch = env.get(SWITCH, "auto").strip().lower()
    if switch not in ("auto", "0", "1"):
        raise ConfigError(f"{SWITCH} must be auto, 0 or 1, got '{env[SWITCH]}'.")
    size = launched_size(env)
    if switch == "0" or (switch == "auto" and size <= 1):
        return Solo()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"This process is one of {size} MPI ranks, but mpi4py is not installed.",
            hint="Install the MPI extra: pip install 'dlcli[mpi]' (or set DLCLI_MPI=0 to run each rank alone).",
        ) from None
    return MPIWorld()
