"""Training throughput of dlcli's NumPy core against its GEMM-only bound and PyTorch.

MLP 784-256-128-10, ReLU, softmax cross-entropy, Adam, float32, random data. For each
batch size (32, 128, 1024) it times, interleaved in the same run:

* dlcli: ``compute_loss_and_gradients`` + ``Adam.step``;
* the GEMM-only bound: the step's eight matrix products alone (three forward, three weight
  gradients, two input gradients; the data's input gradient is never needed), written into
  preallocated arrays — the time no NumPy implementation can beat;
* PyTorch, if importable: the same model, ``CrossEntropyLoss`` and
  ``torch.optim.Adam(fused=True)``, with ``torch.set_num_threads`` equal to NumPy's BLAS
  threads.

Each round times a block of steps of every variant in rotating order, after a short pause
that lets the other library's worker threads stop spinning; the figures are the median over
rounds with min–max, and each ratio is the median of the per-round ratios. Results are printed and written into the
``bench:train_throughput`` section of docs/benchmarks.md (``--no-write`` to skip).

Usage: ``python bench/train_throughput.py [--rounds 9] [--seconds 0.25] [--no-write]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from _report import write_section

from dlcli.nn import Dense, Sequential, get_optimizer

SIZES = (784, 256, 128, 10)
BATCHES = (32, 128, 1024)
SETTLE_SECONDS = 0.2
POOL = 8  # distinct random batches cycled through, so no step sees warm identical data

Step = Callable[[int], None]
ADAM_SECONDS: dict[int, list[float]] = {}  # per batch size: time in the optimizer step
TARGETS = {128: 0.75, 1024: 0.80}  # fraction of the GEMM-only bound (issue 2)
TORCH_TARGET = (128, 1.3)  # dlcli / PyTorch at this batch size


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count and how it was found."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(var, "").isdigit():
                return int(os.environ[var]), var
        return os.cpu_count() or 1, "os.cpu_count()"
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    if blas:
        return int(blas[0]["num_threads"]), f"threadpoolctl ({blas[0]['internal_api']})"
    return os.cpu_count() or 1, "os.cpu_count()"


def make_data(batch: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, SIZES[0]), dtype=np.float32) for _ in range(POOL)]
    ys = [rng.integers(0, SIZES[-1], batch) for _ in range(POOL)]
    return xs, ys


def dlcli_step(batch: int) -> Step:
    model = Sequential(
        [Dense(SIZES[1], "relu"), Dense(SIZES[2], "relu"), Dense(SIZES[3], "softmax")],
        SIZES[0],
        loss="categorical_crossentropy",
        dtype="float32",
    )
    model.build(np.random.default_rng(0))
    opt = get_optimizer("adam")
    params, grads = model.parameters(), model.gradients()
    xs, ys = make_data(batch, 1)

    def step(i: int) -> None:
        model.compute_loss_and_gradients(xs[i % POOL], ys[i % POOL])
        t0 = time.perf_counter()
        opt.step(params, grads, 1e-3)
        ADAM_SECONDS[batch].append(time.perf_counter() - t0)

    ADAM_SECONDS[batch] = []
    return step


def gemm_step(batch: int) -> Step:
    """The eight matrix products of one step, into preallocated float32 arrays."""
    rng = np.random.default_rng(2)
    f32 = np.float32
    W = [rng.standard_normal((a, b), dtype=f32) * f32(0.05) for a, b in itertools.pairwise(SIZES)]
    dW = [np.empty_like(w) for w in W]
    H = [np.empty((batch, n), dtype=f32) for n in SIZES[1:]]  # layer outputs
    D = [np.empty((batch, n), dtype=f32) for n in SIZES[1:]]  # gradients at layer outputs
    xs, _ = make_data(batch, 1)

    def step(i: int) -> None:
        X = xs[i % POOL]
        np.matmul(X, W[0], out=H[0])
        np.matmul(H[0], W[1], out=H[1])
        np.matmul(H[1], W[2], out=H[2])
        np.matmul(H[1].T, H[2], out=dW[2])  # D[2] stands in for dZ3: same shape and cost
        np.matmul(H[2], W[2].T, out=D[1])
        np.matmul(H[0].T, D[1], out=dW[1])
        np.matmul(D[1], W[1].T, out=D[0])
        np.matmul(X.T, D[0], out=dW[0])

    return step


def torch_step(batch: int, threads: int) -> Step | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)  # torch's own generator; the benchmark never seeds NumPy globally
    layers: list = []
    for a, b in itertools.pairwise(SIZES):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = make_data(batch, 1)
    tx = [torch.from_numpy(x) for x in xs]
    ty = [torch.from_numpy(y) for y in ys]

    def step(i: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(tx[i % POOL]), ty[i % POOL]).backward()
        opt.step()

    return step


def steps_for(step: Step, seconds: float) -> int:
    """Calibrate a block length of about ``seconds`` (after warming up)."""
    for i in range(5):
        step(i)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.05:
        step(n)
        n += 1
    return max(5, int(n * seconds / (time.perf_counter() - t0)))


def measure(batch: int, rounds: int, seconds: float, threads: int) -> dict[str, list[float]]:
    """Samples/s per round for each variant, blocks interleaved in rotating order."""
    variants: dict[str, Step] = {"dlcli": dlcli_step(batch), "gemm": gemm_step(batch)}
    torch = torch_step(batch, threads)
    if torch is not None:
        variants["torch"] = torch
    blocks = {name: steps_for(step, seconds) for name, step in variants.items()}
    results: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step, n = variants[name], blocks[name]
            # Let the other library's spinning worker threads park, then wake our own,
            # so neither side pays for the other's idle spin.
            time.sleep(SETTLE_SECONDS)
            for i in range(3):
                step(i)
            t0 = time.perf_counter()
            for i in range(n):
                step(i)
            results[name].append(batch * n / (time.perf_counter() - t0))
    return results


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a/b: each round's blocks ran back to back, so pairing them
    cancels interference that hits a whole round."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def target_verdicts(all_results: dict[int, dict[str, list[float]]], has_torch: bool) -> list[str]:
    """One "got X (target Y: met/missed)" phrase per target that this run measured."""
    verdicts = []
    for batch, goal in TARGETS.items():
        if batch in all_results:
            res = all_results[batch]
            got = paired_ratio(res["dlcli"], res["gemm"])
            verdicts.append(
                f"{got:.0%} of the bound at batch {batch} (target ≥ {goal:.0%}: {'met' if got >= goal else 'missed'})"
            )
    batch, ratio = TORCH_TARGET
    if has_torch and batch in all_results:
        res = all_results[batch]
        got = paired_ratio(res["dlcli"], res["torch"])
        verdicts.append(
            f"{got:.2f}× PyTorch at batch {batch} (target ≥ {ratio}×: {'met' if got >= ratio else 'missed'})"
        )
    return verdicts


def adam_share(all_results: dict[int, dict[str, list[float]]]) -> list[str]:
    """Median time in the optimizer step and its share of the median dlcli step."""
    out = []
    for batch, res in all_results.items():
        seconds = statistics.median(ADAM_SECONDS[batch])
        step_seconds = batch / statistics.median(res["dlcli"])
        out.append(f"{seconds * 1e3:.2f} ms at batch {batch} ({seconds / step_seconds:.0%} of the step)")
    return out


def report(all_results: dict[int, dict[str, list[float]]], threads: int, how: str, rounds: int) -> str:
    has_torch = all("torch" in r for r in all_results.values())
    head = "| batch | dlcli samples/s | GEMM-only bound | dlcli / bound |"
    rule = "|---:|---:|---:|---:|"
    if has_torch:
        head += " PyTorch samples/s | dlcli / PyTorch |"
        rule += "---:|---:|"
    lines = [head, rule]
    for batch, res in all_results.items():
        row = f"| {batch} | {fmt(res['dlcli'])} | {fmt(res['gemm'])} | {paired_ratio(res['dlcli'], res['gemm']):.0%} |"
        if has_torch:
            row += f" {fmt(res['torch'])} | {paired_ratio(res['dlcli'], res['torch']):.2f}× |"
        lines.append(row)
    verdicts, adam = target_verdicts(all_results, has_torch), adam_share(all_results)
    torch_note = "PyTorch not importable: no reference column."
    if has_torch:
        import torch

        torch_note = f"PyTorch {torch.__version__}, `torch.optim.Adam(fused=True)`, `torch.set_num_threads({threads})`."
    return "\n".join(
        [
            "## Training throughput (`bench/train_throughput.py`)",
            "MLP 784-256-128-10, ReLU, softmax cross-entropy, Adam, float32, random data. "
            f"Median (min–max) over {rounds} interleaved rounds, samples/s; ratios are medians of "
            "the per-round ratios. The GEMM-only bound times the step's eight matrix products alone.",
            "",
            *lines,
            "",
            f"NumPy {np.__version__}, BLAS threads {threads} (from {how}); {torch_note} "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs.",
            "",
            "Result against the targets: " + "; ".join(verdicts) + ".",
            "",
            "Time in dlcli's Adam update (median, inside the timed steps): " + "; ".join(adam) + ".",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.25, help="length of one block")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    threads, how = blas_threads()
    results = {b: measure(b, args.rounds, args.seconds, threads) for b in args.batches}
    text = report(results, threads, how, args.rounds)
    print(text)
    if not args.no_write:
        write_section("train_throughput", text)


if __name__ == "__main__":
    main()
