"""Training throughput of dlcli's NumPy core against its GEMM-only bound, PyTorch and scikit-learn.

Three nets, float32, Adam, random data:

* ``mlp`` 784-256-128-10, ReLU, softmax cross-entropy, at batch 32, 128 and 1024;
* ``tabular`` 30-64-32-1, ReLU, mse, at batch 32 and 256;
* ``wide`` 512-2048-2048-10, ReLU, softmax cross-entropy, at batch 256.

For each net and batch size, at 1 BLAS thread and at 2 (``threadpool_limits``), it times,
interleaved in the same run:

* ``dlcli``: ``compute_loss_and_gradients`` + ``Adam.step`` as training runs them: the kernel
  set ``train.kernels = "auto"`` picks, and the BLAS threads ``dlcli.train.threads`` picks
  within the limit;
* ``numpy path``: the same step on the NumPy kernels with the BLAS threads untouched, which
  is how every step ran before the compiled kernels and the thread choice existed;
* the GEMM-only bound: the step's matrix products alone (three forward, three weight
  gradients, two input gradients), into preallocated arrays, at dlcli's thread count;
* PyTorch, if importable: the same model, loss and ``torch.optim.Adam(fused=True)``,
  ``torch.set_num_threads`` equal to the limit;
* scikit-learn, if importable: ``MLPClassifier``/``MLPRegressor`` (adam) ``partial_fit`` on one
  batch, which is one step plus its per-call checks.

Each round times a block of steps of every variant in rotating order after a short pause
(so the other library's worker threads stop spinning); figures are medians over rounds with
min–max, ratios medians of per-round ratios. The OpenBLAS kernel and the load average are
printed, since the kernel alone moves the ratios about 1.5× and load moves everything.
Results go into the ``bench:train_throughput`` section of docs/benchmarks.md (``--no-write``).

Usage: ``python bench/train_throughput.py [--rounds 7] [--seconds 0.25] [--threads 1 2] [--no-write]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from _report import write_section

from dlcli.nn import Dense, Sequential, get_optimizer, kernels
from dlcli.train import threads as blas_threads

SETTLE_SECONDS = 0.2
POOL = 8  # distinct random batches cycled through, so no step sees warm identical data
Step = Callable[[int], None]
Block = Callable[[], AbstractContextManager[Any]]  # entered around each timed block


@dataclass(frozen=True)
class Net:
    sizes: tuple[int, ...]
    classes: bool  # softmax cross-entropy on labels; else mse on one value
    batches: tuple[int, ...]

    @property
    def label(self) -> str:
        return "-".join(map(str, self.sizes))


NETS = {
    "mlp": Net((784, 256, 128, 10), True, (32, 128, 1024)),
    "tabular": Net((30, 64, 32, 1), False, (32, 256)),
    "wide": Net((512, 2048, 2048, 10), True, (256,)),
}
# (net, batch) -> minimum ratio; issue 14's targets.
TORCH_TARGETS = {("mlp", 32): 1.5, ("mlp", 128): 1.5, ("mlp", 1024): 1.3}
BOUND_TARGETS = {("mlp", 128): 0.75, ("mlp", 1024): 0.85}
NO_REGRESSION = ("tabular", "wide")  # dlcli / numpy path must stay >= 1 (within noise)
ADAM_SECONDS: dict[tuple[str, int, int], list[float]] = {}  # (net, batch, threads): optimizer step


def make_data(net: Net, batch: int, seed: int = 1) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, net.sizes[0]), dtype=np.float32) for _ in range(POOL)]
    if net.classes:
        return xs, [rng.integers(0, net.sizes[-1], batch) for _ in range(POOL)]
    return xs, [rng.standard_normal((batch, 1), dtype=np.float32) for _ in range(POOL)]


def dlcli_model(net: Net) -> Sequential:
    layers = [Dense(n, "relu") for n in net.sizes[1:-1]] + [Dense(net.sizes[-1], "softmax" if net.classes else None)]
    loss = "categorical_crossentropy" if net.classes else "mse"
    return Sequential(layers, net.sizes[0], loss=loss, dtype="float32").build(np.random.default_rng(0))


def dlcli_variant(net: Net, batch: int, key: tuple[str, int, int] | None, policy: bool) -> tuple[Step, Block]:
    """The dlcli step; ``policy``: the kernels and BLAS threads training picks, else the NumPy path."""
    model, opt = dlcli_model(net), get_optimizer("adam")
    params, grads = model.parameters(), model.gradients()
    xs, ys = make_data(net, batch)
    chosen = kernels.resolve("auto", sum(p.size for p in params)) if policy else "numpy"
    if key is not None:
        ADAM_SECONDS[key] = []

    def step(i: int) -> None:
        model.compute_loss_and_gradients(xs[i % POOL], ys[i % POOL], checked=True)
        t0 = time.perf_counter()
        opt.step(params, grads, 1e-3)
        if key is not None:
            ADAM_SECONDS[key].append(time.perf_counter() - t0)

    @contextmanager
    def block() -> Any:
        with ExitStack() as stack:
            stack.enter_context(blas_threads.kernels_in_use(chosen))
            if policy:
                blas = blas_threads.BlasThreads()
                stack.enter_context(blas.limited(blas_threads.threads_for(model, batch, blas.allowed)))
            yield

    return step, block


def gemm_variant(net: Net, batch: int) -> tuple[Step, Block]:
    """The step's matrix products alone, into preallocated float32 arrays, at dlcli's threads."""
    rng = np.random.default_rng(2)
    f32 = np.float32
    W = [rng.standard_normal((a, b), dtype=f32) * f32(0.05) for a, b in itertools.pairwise(net.sizes)]
    dW = [np.empty_like(w) for w in W]
    H = [np.empty((batch, n), dtype=f32) for n in net.sizes[1:]]  # layer outputs, also stand-ins for dZ
    D = [np.empty((batch, n), dtype=f32) for n in net.sizes[1:]]  # gradients at layer inputs
    xs, _ = make_data(net, batch)
    model = dlcli_model(net)

    def step(i: int) -> None:
        X = xs[i % POOL]
        inputs = [X, *H[:-1]]
        for k, w in enumerate(W):
            np.matmul(inputs[k], w, out=H[k])
        for k in range(len(W) - 1, -1, -1):
            np.matmul(inputs[k].T, H[k], out=dW[k])
            if k:  # the data's own input gradient is never needed
                np.matmul(H[k], W[k].T, out=D[k - 1])

    def block() -> Any:
        blas = blas_threads.BlasThreads()
        return blas.limited(blas_threads.threads_for(model, batch, blas.allowed))

    return step, block


def torch_variant(net: Net, batch: int, threads: int) -> tuple[Step, Block] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)  # torch's own generator; the benchmark never seeds NumPy globally
    layers: list[Any] = []
    for a, b in itertools.pairwise(net.sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss() if net.classes else torch.nn.MSELoss()
    xs, ys = make_data(net, batch)
    tx, ty = [torch.from_numpy(x) for x in xs], [torch.from_numpy(y) for y in ys]

    def step(i: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(tx[i % POOL]), ty[i % POOL]).backward()
        opt.step()

    @contextmanager
    def block() -> Any:
        torch.set_num_threads(threads)
        yield

    return step, block


def sklearn_variant(net: Net, batch: int) -> tuple[Step, Block] | None:
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        return None
    kind = MLPClassifier if net.classes else MLPRegressor
    model = kind(hidden_layer_sizes=net.sizes[1:-1], solver="adam", batch_size=batch, random_state=0)
    xs, ys = make_data(net, batch)
    ys = [y.ravel() for y in ys]
    classes = np.arange(net.sizes[-1])

    def step(i: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a one-batch partial_fit "did not converge"
            if net.classes:
                model.partial_fit(xs[i % POOL], ys[i % POOL], classes=classes)
            else:
                model.partial_fit(xs[i % POOL], ys[i % POOL])

    return step, nullcontext


def steps_for(step: Step, seconds: float) -> int:
    """Calibrate a block length of about ``seconds`` (after warming up)."""
    for i in range(5):
        step(i)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.05:
        step(n)
        n += 1
    return max(5, int(n * seconds / (time.perf_counter() - t0)))


def measure(name: str, batch: int, threads: int, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Samples/s per round for each variant, blocks interleaved in rotating order."""
    net = NETS[name]
    found = {
        "dlcli": dlcli_variant(net, batch, (name, batch, threads), policy=True),
        "numpy path": dlcli_variant(net, batch, None, policy=False),
        "bound": gemm_variant(net, batch),
        "torch": torch_variant(net, batch, threads),
        "sklearn": sklearn_variant(net, batch),
    }
    variants = {k: v for k, v in found.items() if v is not None}
    blocks = {}
    for key, (step, enter) in variants.items():
        with enter():
            blocks[key] = steps_for(step, seconds)
    results: dict[str, list[float]] = {key: [] for key in variants}
    names = list(variants)
    for r in range(rounds):
        for key in names[r % len(names) :] + names[: r % len(names)]:
            (step, enter), n = variants[key], blocks[key]
            time.sleep(SETTLE_SECONDS)  # let the previous variant's spinning threads park
            with enter():
                for i in range(3):
                    step(i)
                t0 = time.perf_counter()
                for i in range(n):
                    step(i)
                results[key].append(batch * n / (time.perf_counter() - t0))
    return results


Results = dict[tuple[str, int, int], dict[str, list[float]]]  # (net, batch, threads) -> variant -> samples/s


def ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a/b: each round's blocks ran back to back, so pairing them
    cancels interference that hits a whole round."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def openblas_kernel() -> str:
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(
        f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''}".strip() for i in blas
    )


def table(results: Results, threads: int) -> list[str]:
    refs = [r for r in ("torch", "sklearn") if all(r in v for v in results.values())]
    head = "| net | batch | dlcli samples/s | numpy path | dlcli / numpy path | bound | dlcli / bound |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    for ref in refs:
        head += f" {ref} | dlcli / {ref} |"
        rule += "---:|---:|"
    lines = [head, rule]
    for (name, batch, t), res in results.items():
        if t != threads:
            continue
        vs_numpy, vs_bound = ratio(res["dlcli"], res["numpy path"]), ratio(res["dlcli"], res["bound"])
        row = (
            f"| {NETS[name].label} | {batch} | {fmt(res['dlcli'])} | {fmt(res['numpy path'])} | "
            f"{vs_numpy:.2f}× | {fmt(res['bound'])} | {vs_bound:.0%} |"
        )
        for ref in refs:
            row += f" {fmt(res[ref])} | {ratio(res['dlcli'], res[ref]):.2f}× |"
        lines.append(row)
    return lines


def verdicts(results: Results) -> list[str]:
    """One line per target this run measured: the figure, the target, met or missed."""
    out = []
    for (name, batch, t), res in results.items():
        if (name, batch) in TORCH_TARGETS and "torch" in res:
            got, goal = ratio(res["dlcli"], res["torch"]), TORCH_TARGETS[(name, batch)]
            out.append(f"{t} thread(s), batch {batch}: {got:.2f}× PyTorch (target ≥ {goal}×: {met(got >= goal)})")
        if (name, batch) in BOUND_TARGETS:
            got, goal = ratio(res["dlcli"], res["bound"]), BOUND_TARGETS[(name, batch)]
            out.append(
                f"{t} thread(s), batch {batch}: {got:.0%} of the bound (target ≥ {goal:.0%}: {met(got >= goal)})"
            )
        if name in NO_REGRESSION:
            got = ratio(res["dlcli"], res["numpy path"])
            out.append(
                f"{t} thread(s), {NETS[name].label} at {batch}: {got:.2f}× the previous path ({met(got >= 0.95)})"
            )
    return out


def met(ok: bool) -> str:
    return "met" if ok else "missed"


def adam_times(results: Results) -> list[str]:
    out = []
    for (name, batch, t), res in results.items():
        if name == "mlp":
            seconds = statistics.median(ADAM_SECONDS[(name, batch, t)])
            share = seconds / (batch / statistics.median(res["dlcli"]))
            out.append(f"{seconds * 1e6:.0f} µs at batch {batch}, {t} thread(s) ({share:.0%} of the step)")
    return out


def report(results: Results, thread_counts: list[int], rounds: int, loads: tuple[str, str]) -> str:
    try:
        import torch

        torch_note = f"PyTorch {torch.__version__} (`Adam(fused=True)`, `set_num_threads` = the limit)"
    except ImportError:
        torch_note = "PyTorch not importable"
    try:
        import sklearn

        sklearn_note = f"scikit-learn {sklearn.__version__} (`partial_fit` of one batch, adam)"
    except ImportError:
        sklearn_note = "scikit-learn not importable"
    chosen = kernels.resolve("auto", 235_146)
    lines = [
        "## Training throughput (`bench/train_throughput.py`)",
        "Adam, float32, random data. Median (min–max) samples/s over "
        f"{rounds} interleaved rounds; ratios are medians of the per-round ratios. *dlcli* is the step as "
        "training runs it (`train.kernels = auto`: "
        f"{chosen} for the MLP; BLAS threads chosen by the work); *numpy path* is the same step on the NumPy "
        "kernels with the BLAS threads untouched, as every step ran before; the *bound* times the step's "
        "matrix products alone at dlcli's thread count.",
    ]
    for t in thread_counts:
        lines += ["", f"**BLAS threads limited to {t}**", "", *table(results, t)]
    lines += [
        "",
        f"NumPy {np.__version__}, BLAS {openblas_kernel()}; {torch_note}; {sklearn_note}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; load average {loads[0]} before, {loads[1]} after.",
        "",
        "Against the targets:",
        *(f"- {v}" for v in verdicts(results)),
        "",
        "Time in dlcli's Adam update (median, inside the timed steps): " + "; ".join(adam_times(results)) + ".",
    ]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.25, help="length of one block")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    before = load_average()
    results: Results = {}
    for t in args.threads:
        with threadpool_limits(t, user_api="blas"):
            for name in args.nets:
                for batch in NETS[name].batches:
                    results[(name, batch, t)] = measure(name, batch, t, args.rounds, args.seconds)
                    print(f"measured {name} batch {batch} at {t} thread(s)", file=sys.stderr, flush=True)
    text = report(results, args.threads, args.rounds, (before, load_average()))
    print(text)
    if not args.no_write:
        write_section("train_throughput", text)


if __name__ == "__main__":
    main()
