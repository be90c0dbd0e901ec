"""Ending a data-parallel job together: every rank learns of any rank's error.

A phase that any rank may fail in (reading the data, fitting, writing the model) runs on
every rank through :func:`agreed`; afterwards the ranks exchange one small status, and if
any failed, *every* rank raises the first failure as a :class:`~dlcli.errors.RankError`
(with that rank's message and exit code), so all exit with the same code and rank 0 alone
prints it. Inside the training loop the same agreement rides on each step's Allreduce
(:mod:`dlcli.train.distributed`). An error that escapes outside an agreed phase cannot be
agreed (the other ranks are already inside a collective), so the error boundary reports it
and aborts the job: a job ends, it never hangs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dlcli.errors import DlcliError, RankError, describe_failure

from .world import World

T = TypeVar("T")
INTERRUPTED = "interrupted"


def agreed(world: World, make: Callable[[], T]) -> T:
    """``make()`` on every rank; if it failed on any, raise the same error on all of them."""
    if world.size == 1:
        return make()
    failure: BaseException | None = None
    report: Any = None
    try:
        result = make()
    except KeyboardInterrupt as exc:
        failure, report = exc, INTERRUPTED
    except (DlcliError, OSError) as exc:
        failure, report = exc, describe_failure(exc)
    reports = world.allgather(report)
    if any(r == INTERRUPTED for r in reports):
        raise KeyboardInterrupt
    for rank, found in enumerate(reports):
        if found is not None:
            message, hint, code = found
            raise RankError(rank, message, hint, code) from failure
    return result


def on_root(world: World, make: Callable[[], T]) -> T | None:
    """``make()`` on rank 0 only (writing files, uploading), agreed: a failure there ends all ranks."""
    return agreed(world, lambda: make() if world.rank == 0 else None)


def root_first(world: World, make: Callable[[], T]) -> T:
    """``make()`` on this machine's first rank, then on the others (a cache or download
    that the first builds and the rest reuse): one fetch per machine, not per rank."""
    first = agreed(world, make if world.local_rank == 0 else lambda: None)
    world.local_barrier()
    return agreed(world, (lambda: first) if world.local_rank == 0 else make)  # type: ignore[return-value]


def shared(world: World, make: Callable[[], T]) -> T:
    """``make()`` on rank 0, its result broadcast to every rank (fitted statistics, say)."""
    value = on_root(world, make)
    return value if world.size == 1 else world.bcast(value)  # type: ignore[return-value]
