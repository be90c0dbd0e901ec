"""Data-parallel jobs on MPI (mpi4py): the process group, agreement on errors, launching ranks.

Nothing here imports mpi4py until a command runs as one of several ranks.
"""

from .agree import agreed, on_root, root_first, shared
from .world import MPIWorld, Solo, World, current, launched_size, started

__all__ = [
    "MPIWorld",
    "Solo",
    "World",
    "agreed",
    "current",
    "launched_size",
    "on_root",
    "root_first",
    "shared",
    "started",
]
