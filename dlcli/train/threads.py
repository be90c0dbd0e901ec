"""BLAS threads chosen by the work, and the kernel set, for the span of a fit.

OpenBLAS splits any product above a quarter million multiply-adds over all its threads, and
on small or skinny products the hand-off costs more than it saves; on a loaded machine a
second thread that is not scheduled stalls the first. Measured here (2 cores, OpenBLAS
SkylakeX kernel, median of 5 interleaved rounds, 1 thread / 2 threads):

* a 30-64-32-1 net: a training step at batch 256 took 95 / 120 µs, at batch 1024
  462 / 1,934 µs; an end-of-epoch pass over 160k rows took 18 ms / 112–1,240 ms under load;
* the 784-256-128-10 MLP: 516 / 398 µs at batch 32 and 1,550 / 980 µs at batch 128;
* a 512-2048-2048-10 net at batch 256: 90 / 57 ms.

So a pass gets one thread when the model's largest weight matrix is small or the pass as a
whole is, and every thread the process may use otherwise. The thread count is never raised
above what the user (``OPENBLAS_NUM_THREADS``, MPI ranks, threadpoolctl) allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dlcli.nn import kernels

SMALL_WEIGHTS = 1 << 16  # values in the largest weight matrix: below it, one thread
SMALL_PASS = 2_000_000  # multiply-adds in one forward pass over the rows: below it, one thread


def weight_shapes(model: Any) -> list[tuple[int, int]]:
    """``(inputs, outputs)`` of every matrix product the model's forward pass makes."""
    return [p.shape for p in model.parameters() if getattr(p, "ndim", 0) == 2]


def threads_for(model: Any, rows: int, allowed: int) -> int:
    """BLAS threads for a pass over ``rows`` rows: 1 for small work, else ``allowed``."""
    shapes = weight_shapes(model)
    if allowed <= 1 or not shapes:
        return 1
    largest = max(a * b for a, b in shapes)
    work = rows * sum(a * b for a, b in shapes)
    return 1 if largest < SMALL_WEIGHTS or work < SMALL_PASS else allowed


class BlasThreads:
    """Switch the BLAS thread count cheaply (about 10 µs) within what was allowed at the start."""

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController  # scanning the libraries costs milliseconds: once

        self._controller = ThreadpoolController().select(user_api="blas")
        counts = [lib.num_threads for lib in self._controller.lib_controllers]
        self.allowed = max(counts) if counts else 1

    @contextmanager
    def limited(self, threads: int) -> Iterator[None]:
        """Use ``threads`` BLAS threads (at most :attr:`allowed`) inside the block."""
        if not self._controller.lib_controllers or threads >= self.allowed:
            yield
            return
        with self._controller.limit(limits=max(1, threads)):
            yield


@contextmanager
def kernels_in_use(name: str | None) -> Iterator[None]:
    """Make kernel set ``name`` active inside the block (``auto`` resolved by the caller;
    ``None`` keeps the active one)."""
    if name is None:
        yield
        return
    previous = kernels.use(name)
    try:
        yield
    finally:
        kernels.restore(previous)


@dataclass(frozen=True)
class ThreadPlan:
    """The BLAS threads of a fit's two kinds of pass: training steps and evaluation chunks."""

    blas: BlasThreads
    step: int
    evaluation: int

    @classmethod
    def for_model(cls, model: Any, batch_rows: int, eval_rows: int) -> ThreadPlan:
        blas = BlasThreads()
        return cls(blas, threads_for(model, batch_rows, blas.allowed), threads_for(model, eval_rows, blas.allowed))

    def steps(self) -> Any:
        return self.blas.limited(self.step)

    def evaluating(self) -> Any:
        return self.blas.limited(self.evaluation)
