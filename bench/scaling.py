"""Data-parallel scaling: dlcli's MPI training on one 2-core machine, and a cost model for N machines.

Two models, ReLU, softmax cross-entropy, Adam, float32, random data: the MLP 784-256-128-10
and a wide 512-2048-2048-10. For each at global batch 256, 1024 and 4096, every round runs
these configurations back to back, in rotating order, each in fresh processes
(``bench/_scaling_rank.py``) through ``dlcli.train.Trainer``:

* ``1×1``: one process, 1 BLAS thread;
* ``2×1``: 2 ranks under MPICH's fork launcher (next to this Python; shared memory only),
  1 BLAS thread each: the data-parallel step, one Allreduce of the gradient buffer per step;
* ``1×2``: one process, 2 BLAS threads;
* ``apart``: the control: 2 ranks started the same way, each training alone (no Allreduce)
  on half the batch and half the rows, timed together: what this machine allows two
  1-thread processes at that per-rank batch (its shared caches, memory bandwidth, clocks),
  so ``2×1 / apart`` is what the data-parallel step itself costs.

Each run warms up (one batch, or about 2048 rows), then times whole epochs; samples/s is
rows / step time (the trainer's own per-epoch figure, without the epoch-end work). The
2-rank runs also time the Allreduce inside the run (a wrapped world; the rank waiting least
is the transfer, the other adds the wait for the slower rank) and in isolation (the model's
buffer, calls entered together after a barrier). Then, per round, a 1-process 1-thread
profile of step time at batch 16–4096: the compute per sample the cost model uses.

Figures are medians (min–max) over rounds; efficiency (2×1 / (2 × 1×1)) and 2×1 / 1×2 are
medians of the per-round ratios. Printed, written into the ``bench:scaling`` section of
docs/benchmarks.md, and the measured figures and the model's tables into docs/scaling.md
(``--no-write`` to skip; ``--quick`` is a smoke run and writes nothing).

Usage: ``python bench/scaling.py [--rounds 3] [--quick] [--no-write] [--save FILE]``
(``--report FILE``: report and write a saved run again, without measuring);
``python bench/scaling.py --model-only [--figures FILE]`` prints the cost model from the
figures stored in docs/scaling.md (or a ``--save`` file) without measuring.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from _report import summary, write_section

HERE = Path(__file__).resolve().parent
RANK = str(HERE / "_scaling_rank.py")
SCALING_DOC = HERE.parent / "docs" / "scaling.md"
BIN = Path(sys.executable).parent  # the venv's mpiexec sits next to its Python; never PATH
LOCAL_ONLY = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "shm"}
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

MODELS = {"mlp": "784-256-128-10", "wide": "512-2048-2048-10"}
BATCHES = (256, 1024, 4096)
# name: (ranks, BLAS threads, extra arguments); "apart": 2 ranks training alone, no Allreduce
CONFIGS = {"1×1": (1, 1, []), "2×1": (2, 1, []), "1×2": (1, 2, []), "apart": (2, 1, ["--apart"])}
# Rows and timed epochs per model: several seconds of steps per run at 1 thread.
SIZES = {"mlp": (32768, 6), "wide": (16384, 1)}
QUICK_SIZES = {"mlp": (8192, 1), "wide": (4096, 1)}
PROFILE_BATCHES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
PROFILE_SECONDS = 0.4
TARGET_EFFICIENCY, TARGET_BATCH = 0.85, 1024
SETTLE_SECONDS = 0.3
TIMEOUT = 900.0

# Cost model: N nodes, one rank per node, each node computing like the 1-process 1-thread profile.
NODES = (4, 16, 64)
LINKS = {10: (0.9, 20e-6), 100: (0.5, 20e-6)}  # Gbit/s: (bandwidth efficiency, latency per hop in s)
MODEL_BATCHES = (1024, 4096)


# --- measuring ---------------------------------------------------------------------------
def launcher() -> Path:
    for name in ("mpiexec.gforker", "mpiexec"):
        if (BIN / name).is_file():
            return BIN / name
    raise SystemExit(f"no mpiexec next to {sys.executable}: pip install 'dlcli[mpi]'")


def child_env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES and k != "DLCLI_MPI"}
    env.update({var: str(threads) for var in THREAD_VARIABLES})
    for key, value in LOCAL_ONLY.items():
        env.setdefault(key, value)
    return env


def run_child(ranks: int, threads: int, args: list[str]) -> tuple[dict[str, Any] | None, str]:
    """One run (``ranks`` > 1: under mpiexec): rank 0's JSON line, or ``None`` and why not."""
    cmd = [sys.executable, RANK, *args]
    if ranks > 1:
        cmd = [str(launcher()), "-n", str(ranks), *cmd]
    proc = subprocess.Popen(
        cmd, env=child_env(threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher's own process group: it and its ranks
        proc.communicate()
        return None, f"timed out after {TIMEOUT:.0f} s"
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return None, f"exit {proc.returncode}: {tail[:200]}"
    return json.loads(lines[-1]), ""


def rotate(items: list, r: int) -> list:
    return items[r % len(items) :] + items[: r % len(items)]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Per case ``model/batch`` and configuration, one result per round (``None``: it failed)."""
    sizes = QUICK_SIZES if args.quick else SIZES
    cases = [(m, b) for m in MODELS for b in args.batches]
    runs: dict[str, dict[str, list[Any]]] = {f"{m}/{b}": {c: [] for c in CONFIGS} for m, b in cases}
    profiles: dict[str, list[Any]] = {m: [] for m in MODELS}
    failures: dict[str, str] = {}
    loads = []
    for r in range(args.rounds):
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.rounds} (load {loads[-1]:.2f})", flush=True)
        for i, (model, batch) in enumerate(cases):
            rows, epochs = sizes[model]
            rows = max(rows, 2 * batch)
            for name in rotate(list(CONFIGS), r + i):
                ranks, threads, extra = CONFIGS[name]
                time.sleep(SETTLE_SECONDS)
                got, why = run_child(ranks, threads, ["train", model, str(batch), str(rows), str(epochs), *extra])
                runs[f"{model}/{batch}"][name].append(got)
                if got is None:
                    failures.setdefault(f"{model}/{batch} {name}", why)
                    print(f"  {model} batch {batch} {name}: FAILED {why}", flush=True)
                    continue
                extra = ""
                if "allreduce_isolated" in got:
                    extra = f", Allreduce {min(got['allreduce_in_run']) * 1e3:.2f} ms in run"
                    extra += f", {got['allreduce_isolated'] * 1e3:.2f} ms isolated"
                print(f"  {model} batch {batch} {name}: {got['samples_per_second']:,.0f} samples/s{extra}", flush=True)
        for model in MODELS:
            seconds = 0.1 if args.quick else PROFILE_SECONDS
            got, why = run_child(1, 1, ["profile", model, str(seconds), *map(str, PROFILE_BATCHES)])
            profiles[model].append(got)
            if got is None:
                failures.setdefault(f"profile {model}", why)
            print(f"  profile {model}: " + ("FAILED " + why if got is None else "done"), flush=True)
    loads.append(os.getloadavg()[0])
    return {"runs": runs, "profiles": profiles, "failures": failures, "loads": loads, "sizes": sizes}


# --- summarising -------------------------------------------------------------------------
def ok(results: list[Any]) -> list[dict[str, Any]]:
    return [r for r in results if r is not None]


def rate(results: list[Any]) -> list[float]:
    return [r["samples_per_second"] for r in ok(results)]


def paired(a: list[Any], b: list[Any], scale: float = 1.0) -> list[float]:
    """Per-round ratios a / (scale × b), over the rounds where both ran."""
    return [x["samples_per_second"] / (scale * y["samples_per_second"]) for x, y in zip(a, b, strict=True) if x and y]


def spread(values: list[float], spec: str = ",.0f", scale: float = 1.0) -> str:
    if not values:
        return "not measured"
    med, lo, hi = summary([v * scale for v in values])
    return f"{med:{spec}} ({lo:{spec}}–{hi:{spec}})"


def model_runs(measured: dict[str, Any], model: str, config: str) -> list[dict[str, Any]]:
    """Every successful run of ``config`` for ``model``, over batches and rounds."""
    return [r for case, rs in measured["runs"].items() if case.split("/")[0] == model for r in ok(rs[config])]


def figures(measured: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    """What the cost model rests on: medians over rounds."""
    out: dict[str, Any] = {"environment": environment, "models": {}}
    for model in MODELS:
        profiles = ok(measured["profiles"][model])
        curve = {b: statistics.median(p["step_seconds"][str(b)] for p in profiles) for b in PROFILE_BATCHES}
        two = model_runs(measured, model, "2×1")
        runs = [r for c in CONFIGS for r in model_runs(measured, model, c)]
        any_run = runs[0] if runs else None
        out["models"][model] = {
            "layers": MODELS[model],
            "gradient_bytes": any_run["gradient_bytes"] if any_run else None,
            "parameters": any_run["parameters"] if any_run else None,
            "allreduce_shm_seconds": statistics.median(r["allreduce_isolated"] for r in two) if two else None,
            "step_seconds": {str(b): s for b, s in curve.items()},
            "samples_per_second": {
                case.split("/")[1]: {c: statistics.median(rate(v)) for c, v in rs.items() if rate(v)}
                for case, rs in measured["runs"].items()
                if case.split("/")[0] == model
            },
        }
    return out


def results_table(measured: dict[str, Any]) -> tuple[list[str], list[str], list[tuple[str, int, float, float]]]:
    """The measured table, the per-model Allreduce lines, and (model, batch, efficiency, 2×1/1×2) medians."""
    lines = [
        "| model | global batch | 1 process × 1 thread | 2 ranks × 1 thread | 1 process × 2 threads "
        "| 2 apart (ceiling) | efficiency 2×1 / (2 × 1×1) | ceiling apart / (2 × 1×1) | 2×1 / apart "
        "| 2×1 / 1×2 | Allreduce in run, ms/step (least / most waiting rank) | Allreduce share of the 2-rank step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdict_data = []
    for case, rs in measured["runs"].items():
        model, batch = case.split("/")
        eff = paired(rs["2×1"], rs["1×1"], 2.0)
        vs = paired(rs["2×1"], rs["1×2"])
        ceiling, overhead = paired(rs["apart"], rs["1×1"], 2.0), paired(rs["2×1"], rs["apart"])
        two = ok(rs["2×1"])
        least = [min(r["allreduce_in_run"]) for r in two]
        most = [max(r["allreduce_in_run"]) for r in two]
        share = [min(r["allreduce_in_run"]) / r["step_seconds"] for r in two]
        ar = f"{spread(least, '.2f', 1e3)} / {statistics.median(most) * 1e3:.2f}" if two else "not measured"
        lines.append(
            f"| {model} {MODELS[model]} | {batch} | {spread(rate(rs['1×1']))} | {spread(rate(rs['2×1']))} "
            f"| {spread(rate(rs['1×2']))} | {spread(rate(rs['apart']))} | {spread(eff, '.0%')} "
            f"| {spread(ceiling, '.0%')} | {spread(overhead, '.0%')} | {spread(vs, '.2f')}× | {ar} "
            f"| {spread(share, '.0%')} |"
        )
        if eff and vs:
            verdict_data.append((model, int(batch), statistics.median(eff), statistics.median(vs)))
    allreduce = []
    for model in MODELS:
        two = model_runs(measured, model, "2×1")
        if two:
            iso = [r["allreduce_isolated"] for r in two]
            gb = two[0]["gradient_bytes"]
            med = statistics.median(iso)
            allreduce.append(
                f"{model}: gradient buffer {gb:,} bytes ({two[0]['parameters']:,} float32 parameters + 4 status "
                f"slots); Allreduce in isolation on 2 ranks {spread(iso, '.3f', 1e3)} ms "
                f"({gb / med / 1e9:.1f} GB/s of buffer)"
            )
    return lines, allreduce, verdict_data


def verdicts(data: list[tuple[str, int, float, float]]) -> list[str]:
    out = []
    for model, batch, eff, vs in data:
        if batch < TARGET_BATCH:
            continue
        met = "met" if eff >= TARGET_EFFICIENCY else "missed"
        out.append(f"- {model}, batch {batch}: efficiency {eff:.0%} (target ≥ {TARGET_EFFICIENCY:.0%}): **{met}**")
        met = "met" if vs > 1.0 else "missed"
        ratio = f"2 ranks × 1 thread / 1 process × 2 threads = {vs:.2f}×"
        out.append(f"- {model}, batch {batch}: {ratio} (target > 1): **{met}**")
    return out


def profile_table(figs: dict[str, Any]) -> list[str]:
    head = "| model | " + " | ".join(str(b) for b in PROFILE_BATCHES) + " |"
    lines = [
        "Step time of 1 process × 1 thread by batch (median over rounds), ms per step / µs per sample:",
        "",
        head,
        "|---|" + "---:|" * len(PROFILE_BATCHES),
    ]
    for model, f in figs["models"].items():
        steps = [f["step_seconds"][str(b)] for b in PROFILE_BATCHES]
        cells = [f"{t * 1e3:.2f} / {t / b * 1e6:.1f}" for t, b in zip(steps, PROFILE_BATCHES, strict=True)]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


# --- the cost model ----------------------------------------------------------------------
def compute_seconds(curve: dict[int, float], batch: float) -> float:
    """Step time of one node at ``batch`` rows: log-log interpolation of the measured profile;
    beyond its largest batch, linear in the batch; below its smallest, that step's time."""
    points = sorted(curve.items())
    if batch <= points[0][0]:
        return points[0][1]
    if batch >= points[-1][0]:
        return points[-1][1] * batch / points[-1][0]
    for (b0, t0), (b1, t1) in itertools.pairwise(points):
        if b0 <= batch <= b1:
            w = math.log(batch / b0) / math.log(b1 / b0)
            return math.exp((1 - w) * math.log(t0) + w * math.log(t1))
    raise AssertionError("unreachable")


def allreduce_seconds(nodes: int, gradient_bytes: float, gbit: float, local_seconds: float) -> float:
    """Ring Allreduce: 2(N−1)/N × bytes over the link (at its efficiency), plus the node's own
    memory work on those bytes (scaled from the 2-rank shared-memory Allreduce, whose factor
    2(N−1)/N is 1), plus latency × log2 N."""
    efficiency, latency = LINKS[gbit]
    share = 2 * (nodes - 1) / nodes
    bandwidth = gbit * 1e9 / 8 * efficiency
    return share * gradient_bytes / bandwidth + share * local_seconds + latency * math.log2(nodes)


def predict(model: dict[str, Any], nodes: int, gbit: float, batch: float, per_node: bool) -> dict[str, float]:
    """Throughput and efficiency of ``nodes`` nodes; ``per_node``: ``batch`` rows on each node
    (global batch N × batch), else ``batch`` is the global batch split N ways."""
    curve = {int(b): s for b, s in model["step_seconds"].items()}
    local = batch if per_node else batch / nodes
    compute = compute_seconds(curve, local)
    comm = allreduce_seconds(nodes, model["gradient_bytes"], gbit, model["allreduce_shm_seconds"])
    throughput = nodes * local / (compute + comm)
    one_node = (nodes * local) / compute_seconds(curve, nodes * local)  # one node, the same global batch
    return {
        "local": local,
        "compute": compute,
        "comm": comm,
        "throughput": throughput,
        "speedup": throughput / one_node,
        "efficiency": throughput / (nodes * one_node),
    }


def pays_from(model: dict[str, Any], nodes: int, gbit: float, goal: float) -> float | None:
    """The smallest global batch (split N ways) at which N nodes reach ``goal`` efficiency."""
    for k in range(0, 4 * 16 + 1):  # per-node batch 1 … 65536 in steps of 2^(1/4)
        local = 2 ** (k / 4)
        if predict(model, nodes, gbit, nodes * local, per_node=False)["efficiency"] >= goal:
            return nodes * local
    return None


def model_tables(figs: dict[str, Any]) -> list[str]:
    lines = [
        "| model | batch | link | N | split N ways: per-node batch | compute ms | Allreduce ms "
        "| samples/s | speedup | efficiency | fixed per node: global batch | samples/s | efficiency |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, model in figs["models"].items():
        for batch in MODEL_BATCHES:
            for gbit in LINKS:
                for n in NODES:
                    s = predict(model, n, gbit, batch, per_node=False)
                    w = predict(model, n, gbit, batch, per_node=True)
                    lines.append(
                        f"| {name} | {batch} | {gbit} Gbit/s | {n} | {s['local']:g} | {s['compute'] * 1e3:.2f} "
                        f"| {s['comm'] * 1e3:.2f} | {s['throughput']:,.0f} | {s['speedup']:.1f}× "
                        f"| {s['efficiency']:.0%} | {n * batch:,} | {w['throughput']:,.0f} | {w['efficiency']:.0%} |"
                    )
    lines += [
        "",
        "Global batch (split N ways) from which scaling pays: the smallest reaching 50% and 85% efficiency "
        "(rounded to 2^(k/4) rows per node):",
        "",
        "| model | link | N = " + " | N = ".join(map(str, NODES)) + " |",
        "|---|---:|" + "---:|" * len(NODES),
    ]
    for name, model in figs["models"].items():
        for gbit in LINKS:
            cells = []
            for n in NODES:
                got = [pays_from(model, n, gbit, goal) for goal in (0.5, 0.85)]
                cells.append(" / ".join("never" if g is None else f"{g:,.0f}" for g in got))
            lines.append(f"| {name} | {gbit} Gbit/s | " + " | ".join(cells) + " |")
    return lines


def model_text(figs: dict[str, Any]) -> str:
    env = figs["environment"]
    links = "; ".join(f"{g} Gbit/s at {e:.0%} efficiency, {lat * 1e6:.0f} µs per hop" for g, (e, lat) in LINKS.items())
    inputs = []
    for name, m in figs["models"].items():
        inputs.append(
            f"{name}: {m['gradient_bytes']:,} gradient bytes; 2-rank shared-memory Allreduce "
            f"{m['allreduce_shm_seconds'] * 1e3:.3f} ms"
        )
    return "\n".join(
        [
            f"Computed by `python bench/scaling.py --model-only` from the figures of the run of {env['date']} "
            f"(stored below). Links: {links}. " + "; ".join(inputs) + ".",
            "",
            *model_tables(figs),
        ]
    )


# --- docs --------------------------------------------------------------------------------
def write_block(name: str, body: str, doc: Path = SCALING_DOC) -> None:
    """Replace the text between ``<!-- scaling:NAME:start -->`` and ``<!-- scaling:NAME:end -->``."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Scaling\n"
    start, end = f"<!-- scaling:{name}:start -->", f"<!-- scaling:{name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


def stored_figures(path: Path | None) -> dict[str, Any]:
    if path is not None:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("figures", data)
    found = re.search(r"<!-- scaling:figures\n(.*?)\n-->", SCALING_DOC.read_text(encoding="utf-8"), flags=re.S)
    if not found:
        raise SystemExit(f"no stored figures in {SCALING_DOC}: run the benchmark first")
    return json.loads(found.group(1))


def environment(args: argparse.Namespace, measured: dict[str, Any]) -> dict[str, Any]:
    threads = next((r["threads"] for rs in measured["runs"].values() for r in ok(rs["1×1"])), [])
    blas = ", ".join(f"{api} {version} ({arch})" for api, version, _, arch in threads) or "unknown"
    return {
        "date": str(date.today()),
        "command": "python bench/scaling.py " + " ".join(sys.argv[1:]),
        "rounds": args.rounds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "blas": blas,
        "load_start": measured["loads"][0],
        "load_end": measured["loads"][-1],
        "load_max": max(measured["loads"]),
    }


def report(measured: dict[str, Any], figs: dict[str, Any]) -> tuple[str, list[str]]:
    env = figs["environment"]
    table, allreduce, data = results_table(measured)
    checks = verdicts(data)
    sizes = measured["sizes"]
    body = [
        "## Data-parallel scaling (`bench/scaling.py`)",
        "ReLU MLPs, softmax cross-entropy, Adam, float32, random data, through `dlcli.train.Trainer`; "
        f"samples/s of training steps, median (min–max) over {env['rounds']} interleaved rounds, each run in "
        "fresh processes (2 ranks: MPICH `mpiexec.gforker`, shared memory). Rows × timed epochs per run: "
        + ", ".join(f"{m} {r:,} × {e}" for m, (r, e) in sizes.items())
        + "; ratios are medians of the per-round ratios. "
        "*2 apart*: 2 ranks each training alone on half the batch, no Allreduce (this machine's ceiling "
        "for 2 ranks; samples/s summed). Allreduce in run: time inside the step's Allreduce, which for the "
        "rank that waits most also holds the wait for the slower rank.",
        "",
        *table,
        "",
        *[f"- {line}." for line in allreduce],
        "",
        f"`{env['command']}` on {env['date']}; Python {env['python']}, {env['cpus']} CPUs, {env['blas']}; "
        f"load average (1 min) {env['load_start']:.2f} at the start, {env['load_end']:.2f} at the end, "
        f"at most {env['load_max']:.2f} at a round's start.",
        "",
        "Targets:",
        *checks,
    ]
    if measured["failures"]:
        body += ["", "Not measured:", *[f"- {k}: {v}" for k, v in measured["failures"].items()]]
    body += ["", "Cost model for N machines, from these figures: [docs/scaling.md](scaling.md)."]
    return "\n".join(body), checks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small runs, writes nothing")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md, docs/scaling.md")
    parser.add_argument("--save", type=Path, help="also write the raw results and figures here (JSON)")
    parser.add_argument("--model-only", action="store_true", help="print the cost model from stored figures")
    parser.add_argument("--figures", type=Path, help="with --model-only: a --save file instead of docs/scaling.md")
    parser.add_argument("--report", type=Path, help="report (and write) a --save file's run instead of measuring")
    args = parser.parse_args(argv)
    if args.model_only:
        print(model_text(stored_figures(args.figures)))
        return
    if args.report:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        measured, figs = saved["measured"], saved["figures"]
    else:
        if args.quick:
            args.rounds, args.no_write = 1, True
        print(f"load average at the start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
        measured = measure(args)
        figs = figures(measured, environment(args, measured))
    text, _ = report(measured, figs)
    profile = profile_table(figs)
    model = model_text(figs)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print(text, "", *profile, "", "Cost model:", model, sep="\n")
    if args.save:
        args.save.write_text(json.dumps({"measured": measured, "figures": figs}, indent=1), encoding="utf-8")
    if not args.no_write:
        write_section("scaling", text)
        own = text.split("\n")[1:-2]  # without the benchmarks.md heading and the link to this page
        measured_md = "\n".join([*own, "", *profile])
        write_block("measured", measured_md)
        write_block("model", model + "\n\n<!-- scaling:figures\n" + json.dumps(figs, indent=1) + "\n-->")


if __name__ == "__main__":
    main()
