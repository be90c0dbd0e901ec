"""``dlcli explain``'s two computations against the references, measured in the same run.

1. **Attributions**: rows per second of integrated gradients at 50 Gauss-Legendre steps
   (Captum's default rule and count), refinement off, float32, for

   * ``mlp`` 784-256-128-10, ReLU, softmax output, attributing the predicted class's
     probability, chunks of 256 rows;
   * ``tabular`` 30-64-32-1, ReLU, linear output (regression), chunks of 1024 rows.

   Variants: ``dlcli`` (``nn.attribution.integrated_gradients``: the affine split, the first
   layer's pre-activation interpolated per row); ``dlcli full path`` (every path point through
   ``Sequential.input_gradient``, one batch of rows * steps: the straightforward method, to
   show what the split is worth); ``Captum`` ``IntegratedGradients`` on the same model in
   PyTorch (weights copied, the Normalization as an explicit module, softmax in the forward,
   ``internal_batch_size`` = the whole chunk, so one forward and backward of rows * steps like
   dlcli's). The answers are compared before anything is timed.
2. **Permutation importance** of the tabular net on 100,000 rows, 5 repeats:
   ``dlcli.workflows.importance.permutation_importance`` (from an NPZ file on disk: the reading
   is inside the time) against scikit-learn's ``sklearn.inspection.permutation_importance`` on
   an ``MLPRegressor`` holding the same function (the normalisation folded into its first
   layer), R² scoring, ``n_jobs=1``.

Each round runs every variant in rotating order after a short pause; figures are medians
over rounds with min–max, ratios medians of per-round ratios, at 1 BLAS thread and at 2
(``threadpool_limits``; ``torch.set_num_threads`` the same). Results go into the
``bench:explain`` section of docs/benchmarks.md (``--no-write``).

Usage: ``python bench/explain.py [--rounds 7] [--threads 1 2] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from _report import write_section

from dlcli.data.schema import Feature, Schema
from dlcli.nn import Dense, Normalization, Sequential
from dlcli.nn.attribution import QUADRATURES, AffineSplit, integrated_gradients
from dlcli.workflows.importance import permutation_importance
from dlcli.workflows.inference import Predictor

STEPS = 50
SETTLE_SECONDS = 0.2
NETS = {"mlp": ((784, 256, 128, 10), 256), "tabular": ((30, 64, 32, 1), 1024)}
IMPORTANCE_ROWS = 100_000


def build(sizes: tuple[int, ...], seed: int = 0) -> tuple[Sequential, np.ndarray]:
    rng = np.random.default_rng(seed)
    *hidden, out = sizes[1:]
    layers: list[Any] = [Normalization(), *(Dense(h, "relu") for h in hidden)]
    layers.append(Dense(out, "softmax" if out > 1 else "linear"))
    loss = "categorical_crossentropy" if out > 1 else "mse"
    model = Sequential(layers, sizes[0], loss=loss).build(rng)
    for layer in model.layers[1:]:  # trained biases are not zero: paths then cross ReLU kinks
        layer.params["bias"][...] = rng.normal(0.0, 0.3, layer.units)
    X = (rng.random((4096, sizes[0])) * rng.uniform(0.5, 3.0, sizes[0])).astype(np.float32)
    model.layers[0].adapt(X)
    return model, X


def seeds_for(model: Sequential, X: np.ndarray) -> np.ndarray:
    outputs = model.predict(X)
    if model.output_dim == 1:
        return np.ones((len(X), 1), np.float32)
    return np.eye(model.output_dim, dtype=np.float32)[outputs.argmax(axis=1)]


def dlcli_ig(model: Sequential, X: np.ndarray, base: np.ndarray, seeds: np.ndarray) -> Callable[[], np.ndarray]:
    split = AffineSplit(model)
    return lambda: (
        integrated_gradients(split, X, base, seeds, steps=STEPS, max_steps=STEPS, tolerance=float("inf")).values
    )


def full_path_ig(model: Sequential, X: np.ndarray, base: np.ndarray, seeds: np.ndarray) -> Callable[[], np.ndarray]:
    alphas, weights = QUADRATURES.lookup("gausslegendre")(STEPS)
    alphas, weights = alphas.astype(np.float32), weights.astype(np.float32)
    rows, d = X.shape

    def run() -> np.ndarray:
        path = base + alphas[None, :, None] * (X - base)[:, None, :]
        _, grads = model.input_gradient(path.reshape(rows * STEPS, d), np.repeat(seeds, STEPS, axis=0))
        summed: np.ndarray = (X - base) * np.matmul(weights, grads.reshape(rows, STEPS, d))
        return summed

    return run


def torch_model(model: Sequential) -> Any:
    import torch

    norm = model.layers[0]
    mean = torch.tensor(norm.state["mean"])
    std = torch.tensor(np.maximum(np.sqrt(norm.state["variance"]), 1e-7))
    modules: list[Any] = []
    for layer in model.layers[1:]:
        linear = torch.nn.Linear(layer.input_dim, layer.units)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.params["kernel"].T))
            linear.bias.copy_(torch.tensor(layer.params["bias"]))
        modules.append(linear)
        if layer.activation == "relu":
            modules.append(torch.nn.ReLU())
        elif layer.activation == "softmax":
            modules.append(torch.nn.Softmax(dim=1))

    class Standardise(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return (x - mean) / std

    return torch.nn.Sequential(Standardise(), *modules).eval()


def captum_ig(model: Sequential, X: np.ndarray, base: np.ndarray, seeds: np.ndarray) -> Callable[[], np.ndarray] | None:
    try:
        import torch
        from captum.attr import IntegratedGradients
    except ImportError:
        return None
    ig = IntegratedGradients(torch_model(model))
    inputs, baselines = torch.tensor(X), torch.tensor(base[None, :].astype(np.float32))
    target = torch.tensor(seeds.argmax(axis=1)) if seeds.shape[1] > 1 else 0

    def run() -> np.ndarray:
        values = ig.attribute(
            inputs, baselines, target=target, n_steps=STEPS, method="gausslegendre", internal_batch_size=len(X) * STEPS
        )
        result: np.ndarray = values.detach().numpy()
        return result

    return run


def timed(run: Callable[[], Any], min_seconds: float = 0.3) -> float:
    """Seconds per call: as many calls as fill ``min_seconds`` (at least one)."""
    time.sleep(SETTLE_SECONDS)
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or calls >= 50:
            return elapsed / calls


def set_torch_threads(threads: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def attribution_round(variants: dict[str, Callable[[], Any]], rows: int, shift: int) -> dict[str, float]:
    names = list(variants)
    order = names[shift % len(names) :] + names[: shift % len(names)]
    return {name: rows / timed(variants[name]) for name in order}


def agreement(model: Sequential, X: np.ndarray, base: np.ndarray, seeds: np.ndarray, variants: dict[str, Any]) -> str:
    """Each variant's distance, relative to the largest attribution, from the same 50-step rule
    evaluated in float64 (arithmetic error) and from 3,200 steps in float64 (the integral)."""
    exact = Sequential.from_config({**model.get_config(), "dtype": "float64"})
    exact.set_weights({name: dict(weights) for name, weights in model.get_weights().items()})
    split = AffineSplit(exact)
    args = (X.astype(np.float64), base.astype(np.float64), seeds.astype(np.float64))
    same_rule = integrated_gradients(split, *args, steps=STEPS, max_steps=STEPS, tolerance=np.inf).values
    integral = integrated_gradients(split, *args, steps=3200, max_steps=3200, tolerance=np.inf).values
    scale = float(np.abs(integral).max())
    parts = []
    for name, run in variants.items():
        values = run()
        parts.append(
            f"{name} {np.abs(values - same_rule).max() / scale:.1e} / {np.abs(values - integral).max() / scale:.1e}"
        )
    return "; ".join(parts)


def importance_setup(root: Path) -> tuple[Callable[[], Any], Callable[[], Any] | None]:
    model, _ = build(NETS["tabular"][0], seed=3)
    rng = np.random.default_rng(4)
    X = (rng.random((IMPORTANCE_ROWS, 30)) * 2.0).astype(np.float32)
    y = model.predict(X)[:, 0] + 0.1 * rng.standard_normal(IMPORTANCE_ROWS).astype(np.float32)
    np.savez(root / "rows.npz", X=X, y=y)
    schema = Schema("regression", [Feature(f"x{i}", "numeric") for i in range(30)], "y")
    predictor = Predictor(model, schema, {}, "bench")

    def ours() -> Any:
        return permutation_importance(predictor, root / "rows.npz", repeats=5, seed=0, sample=IMPORTANCE_ROWS)

    try:
        from sklearn.inspection import permutation_importance as sk_importance
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return ours, None
    norm, dense = model.layers[0], [layer for layer in model.layers if isinstance(layer, Dense)]
    denom = np.maximum(np.sqrt(norm.state["variance"]), 1e-7)
    first_w = dense[0].params["kernel"] / denom[:, None]
    first_b = dense[0].params["bias"] - (norm.state["mean"] / denom) @ dense[0].params["kernel"]
    reference = MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=1)
    reference.partial_fit(X[:64], y[:64])
    reference.coefs_ = [first_w.astype(np.float32)] + [d.params["kernel"].copy() for d in dense[1:]]
    reference.intercepts_ = [first_b.astype(np.float32)] + [d.params["bias"].copy() for d in dense[1:]]
    assert np.allclose(reference.predict(X[:100]), model.predict(X[:100])[:, 0], atol=1e-3)

    def theirs() -> Any:
        return sk_importance(reference, X, y, n_repeats=5, random_state=0, scoring="r2", n_jobs=1)

    return ours, theirs


def fmt(values: list[float], unit: str = "") -> str:
    return f"{statistics.median(values):,.0f}{unit} ({min(values):,.0f}–{max(values):,.0f})"


def fmt_s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    loads = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    lines: list[str] = []
    verdicts: list[str] = []
    setups = {}
    for net, (sizes, rows) in NETS.items():
        model, data = build(sizes)
        X, base = data[:rows], model.layers[0].state["mean"].copy()
        seeds = seeds_for(model, X)
        variants = {"dlcli": dlcli_ig(model, X, base, seeds), "dlcli full path": full_path_ig(model, X, base, seeds)}
        captum = captum_ig(model, X, base, seeds)
        if captum is not None:
            variants["Captum"] = captum
        setups[net] = (variants, rows)
        lines.append(f"- `{net}`: {agreement(model, X, base, seeds, variants)}")
    with tempfile.TemporaryDirectory() as root:
        ours, theirs = importance_setup(Path(root))
        table = [
            "| net, rows per chunk | threads | dlcli rows/s | full path rows/s | Captum rows/s"
            " | dlcli / Captum | dlcli / full path |",
            "|---|---|---|---|---|---|---|",
        ]
        imp_table = ["| threads | dlcli | scikit-learn | scikit-learn / dlcli |", "|---|---|---|---|"]
        for threads in args.threads:
            set_torch_threads(threads)
            with threadpool_limits(threads, user_api="blas"):
                for net, (variants, rows) in setups.items():
                    figures: dict[str, list[float]] = {name: [] for name in variants}
                    for r in range(args.rounds):
                        for name, value in attribution_round(variants, rows, r).items():
                            figures[name].append(value)
                    cap = figures.get("Captum")
                    vs_captum = f"**{ratio(figures['dlcli'], cap):.2f}×**" if cap else "n/a"
                    table.append(
                        f"| {net} 1/{rows} | {threads} | {fmt(figures['dlcli'])} | {fmt(figures['dlcli full path'])} | "
                        f"{fmt(cap) if cap else 'n/a'} | {vs_captum} | "
                        f"{ratio(figures['dlcli'], figures['dlcli full path']):.2f}× |"
                    )
                    if cap:
                        met = ratio(figures["dlcli"], cap) >= 1.0
                        verdicts.append(
                            f"- {net}, {threads} thread(s): dlcli ≥ Captum's throughput: {'met' if met else 'MISSED'}"
                        )
                    print(table[-1], flush=True)
                times: dict[str, list[float]] = {"dlcli": [], "sklearn": []}
                for r in range(max(1, args.rounds // 2)):
                    pair = [("dlcli", ours), ("sklearn", theirs)] if theirs else [("dlcli", ours)]
                    for name, run in pair[r % len(pair) :] + pair[: r % len(pair)]:
                        time.sleep(SETTLE_SECONDS)
                        start = time.perf_counter()
                        run()
                        times[name].append(time.perf_counter() - start)
                sk = times["sklearn"]
                speedup = f"**{ratio(sk, times['dlcli']):.1f}×**" if sk else "n/a"
                imp_table.append(f"| {threads} | {fmt_s(times['dlcli'])} | {fmt_s(sk) if sk else 'n/a'} | {speedup} |")
                print(imp_table[-1], flush=True)
    loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    try:
        import captum
        import torch

        refs = f"PyTorch {torch.__version__}, Captum {captum.__version__}"
    except ImportError:
        refs = "Captum not installed"
    try:
        import sklearn

        refs += f", scikit-learn {sklearn.__version__}"
    except ImportError:
        pass
    blas = ", ".join(
        f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''}".strip()
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    body = "\n".join(
        [
            "## Explain",
            "",
            f"`python bench/explain.py --rounds {args.rounds}` on {platform.machine()} ({os.cpu_count()} cores), "
            f"NumPy {np.__version__}, BLAS {blas}; {refs}; "
            f"load average {loads[0]} at the start, {loads[1]} at the end.",
            "",
            f"Integrated gradients, {STEPS} Gauss-Legendre steps, float32, refinement off "
            "(medians over rounds, min–max; ratios: medians of per-round ratios):",
            "",
            *table,
            "",
            "Agreement, checked before timing: each variant's largest difference, relative to the largest attribution, "
            f"from the same {STEPS}-step rule computed in float64 / from the integral (3,200 steps, float64):",
            "",
            *lines,
            "",
            f"Permutation importance, tabular net, {IMPORTANCE_ROWS:,} rows × 30 features, 5 repeats, "
            f"{max(1, args.rounds // 2)} rounds (dlcli's time includes reading the NPZ file):",
            "",
            *imp_table,
            "",
            "Target (issue 10): dlcli's attribution throughput at least Captum's.",
            "",
            *verdicts,
        ]
    )
    print(body)
    if not args.no_write:
        write_section("explain", body)


if __name__ == "__main__":
    main()
