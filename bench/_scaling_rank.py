"""The child side of bench/scaling.py: one training run (one process, or one rank of an
``mpiexec`` job), its figures printed as one JSON line by rank 0.

Modes:

* ``train MODEL BATCH ROWS EPOCHS``: a warm-up fit of one global batch
  (or of about 2048 rows), then ``EPOCHS``
  timed epochs of ``ROWS`` random rows through ``dlcli.train.Trainer`` (the real training
  loop; with several ranks, its data-parallel step). Reports samples/s from the epochs' step
  time, the time spent inside the gradient Allreduce (the world is wrapped to time it), and,
  with several ranks, the Allreduce of the model's gradient buffer timed in isolation.
  ``--apart``: under mpiexec, every rank trains alone (no Allreduce) on its share of the
  batch and of the rows, all starting together after a barrier: the ceiling of the
  data-parallel run on this machine; samples/s is the ranks' sum.
* ``profile MODEL SECONDS BATCH...``: one process, step time at each batch size (the compute
  per sample the cost model of docs/scaling.md rests on).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from dlcli.data.batches import ArrayBatchSource
from dlcli.nn import Dense, Sequential, get_optimizer, get_schedule
from dlcli.parallel.world import Solo, current
from dlcli.train import Trainer

MODELS = {"mlp": (784, 256, 128, 10), "wide": (512, 2048, 2048, 10)}
WARMUP_ROWS = 2048  # at least one batch, else whole batches of about this many rows
ISOLATED_CALLS = 40


def build(name: str) -> Sequential:
    sizes = MODELS[name]
    layers = [Dense(n, activation="relu") for n in sizes[1:-1]] + [Dense(sizes[-1], activation="softmax")]
    model = Sequential(layers, loss="sparse_categorical_crossentropy", input_dim=sizes[0], dtype="float32")
    return model.build(np.random.default_rng(1))


def data(name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The same random rows on every rank (fixed seed)."""
    rng = np.random.default_rng(0)
    sizes = MODELS[name]
    return rng.standard_normal((rows, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], rows)


class TimedWorld:
    """The world, with the time spent inside ``allreduce`` added up."""

    def __init__(self, world: Any) -> None:
        self.world, self.rank, self.size = world, world.rank, world.size
        self.seconds, self.calls = 0.0, 0

    def allreduce(self, buffer: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.world.allreduce(buffer)
        self.seconds += time.perf_counter() - t0
        self.calls += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)


def trainer(model: Sequential, batch: int, epochs: int, group: Any) -> Trainer:
    return Trainer(
        model,
        get_optimizer("adam"),
        get_schedule("constant", lr=1e-3),
        epochs=epochs,
        batch_size=batch,
        rng=np.random.default_rng(2),
        task="multiclass",
        group=group,
        train_metrics=False,
    )


def fit_seconds(model: Sequential, X: np.ndarray, y: np.ndarray, batch: int, epochs: int, group: Any) -> float:
    """Seconds of training steps (the records' step time, without the epoch-end work)."""
    source = ArrayBatchSource(X, y, dtype="float32")
    return sum(len(X) / r.samples_per_second for r in trainer(model, batch, epochs, group).fit(source))


def threads() -> list[Any]:
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "architecture")
    return [[pool.get(k) for k in keys] for pool in threadpool_info() if pool.get("user_api") == "blas"]


def isolated_allreduce(world: Any, size: int) -> list[float]:
    """Seconds per Allreduce of a buffer of ``size`` float32, every call entered together
    (after a barrier); per call the slowest rank's time."""
    buffer = np.zeros(size, dtype=np.float32)  # zeros stay zeros: no overflow, no denormals
    times = []
    for i in range(ISOLATED_CALLS + 3):
        world.barrier()
        t0 = time.perf_counter()
        world.allreduce(buffer)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return [max(column) for column in zip(*world.allgather(times), strict=True)]


def train(args: argparse.Namespace) -> dict[str, Any] | None:
    world = current()
    model = build(args.model)
    # --apart: every rank trains alone on its share of the batch and the rows, no Allreduce.
    parts = world.size if args.apart else 1
    batch, rows = args.batch // parts, args.rows // parts
    group = Solo() if args.apart else world
    X, y = data(args.model, rows)
    warm = batch * max(1, WARMUP_ROWS // batch)
    fit_seconds(model, X[:warm], y[:warm], batch, 1, group)  # BLAS, allocations, MPI buffers
    timed = TimedWorld(group)
    world.barrier()
    wall = time.perf_counter()
    seconds = fit_seconds(model, X, y, batch, args.epochs, timed)
    wall = time.perf_counter() - wall
    steps = args.epochs * math.ceil(rows / batch)
    rate = rows * args.epochs / seconds
    out: dict[str, Any] = {
        "ranks": world.size,
        "samples_per_second": sum(world.allgather(rate)) if args.apart else rate,
        "step_seconds": seconds / steps,
        "wall_seconds": wall,
        "steps": steps,
        "gradient_bytes": model.gradient_buffer().nbytes,
        "parameters": sum(p.size for p in model.parameters()),
        "threads": threads(),
    }
    if world.size > 1 and not args.apart:
        per_rank = world.allgather((timed.seconds / max(1, timed.calls), timed.calls))
        out["allreduce_in_run"] = [s for s, _ in per_rank]  # per rank, includes waiting for the others
        out["allreduce_calls"] = [c for _, c in per_rank]
        out["allreduce_isolated"] = statistics.median(isolated_allreduce(world, model.gradient_buffer().size))
    return out if world.rank == 0 else None


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Step seconds at each batch size: calibrate on two steps, then about ``seconds`` of steps."""
    world = current()
    model = build(args.model)
    pool = max(args.batches) * 3
    X, y = data(args.model, pool)
    steps = {}
    for batch in args.batches:
        guess = fit_seconds(model, X[: 2 * batch], y[: 2 * batch], batch, 1, world) / 2
        n = max(3, min(pool // batch, math.ceil(args.seconds / guess)))
        steps[batch] = fit_seconds(model, X[: n * batch], y[: n * batch], batch, 1, world) / n
    return {"step_seconds": steps, "threads": threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("train")
    p.add_argument("model", choices=MODELS)
    p.add_argument("batch", type=int)
    p.add_argument("rows", type=int)
    p.add_argument("epochs", type=int)
    p.add_argument("--apart", action="store_true", help="each rank trains alone on 1/size of the batch and rows")
    p = sub.add_parser("profile")
    p.add_argument("model", choices=MODELS)
    p.add_argument("seconds", type=float)
    p.add_argument("batches", type=int, nargs="+")
    args = parser.parse_args()
    out = train(args) if args.mode == "train" else profile(args)
    if out is not None:
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
