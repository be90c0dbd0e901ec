"""Data path at scale: CSV parsing speed, and the CLI's peak memory and speed on large files.

Generates (``bench/_data_scale_gen.py``, fixed seed, reused when unchanged) a 1M × 30 numeric
CSV with a binary ``y``, the same table as Parquet and Feather, 100k/300k-row subsets, a
one-row CSV and a ~4 GB float32 HDF5 file (``/X``, ``/y``), then measures, rounds interleaved:

1. CSV → float32 matrix: dlcli's ``read_matrix``, ``numpy.loadtxt``, ``pandas.read_csv``,
   ``pyarrow.csv.read_csv``; seconds of the read call, MB/s, peak RSS;
2. ``dlcli train --epochs 1`` (cold cache, then warm), ``eval``, ``predict``, ``init`` on the CSV,
   Parquet and HDF5 files: wall time, peak RSS, and (RSS − baseline) / float32 matrix size;
3. training samples/s in memory against out of core (``--memory-limit 64MiB``);
4. ``predict`` rows/s against pyarrow streaming + the model's NumPy forward pass;
5. one-row ``predict`` latency, interleaved with ``dlcli --help``;
6. peak RSS of ``train --epochs 1`` at 10%, 30% and 100% of the rows: MB per 100k rows.

Every command runs in a fresh subprocess (working directory: the work dir, so no stray
dlcli.toml applies) with a timeout; its peak RSS is that child's ``ru_maxrss`` from
``os.wait4``. A child's ``ru_maxrss`` starts at its parent's peak (exec keeps the high-water
mark), so this process never imports NumPy nor reads a file whole: generation and baselines
run in children too. What dlcli does not offer yet is reported as "not available". Figures
are medians (min–max); ratios are medians of the per-round ratios.

Usage: ``python bench/data_scale.py [--rows 1000000] [--hdf5-gb 4] [--rounds 5] [--workdir DIR]
[--timeout 3600] [--no-write]``; smoke run: ``--rows 20000 --hdf5-gb 0.05 --rounds 2 --no-write``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

import _data_scale_gen as gen
from _report import summary, write_section

DLCLI = str(Path(sys.executable).parent / "dlcli")  # the checkout's, never one on PATH
MB = 1e6
OOC_LIMIT, OOC_BYTES, HDF5_LIMIT, HDF5_LIMIT_BYTES = "64MiB", 64 * 2**20, "2GiB", 2 * 2**30
THROUGHPUT_EPOCHS = 3
LATENCY_RUNS = 15
BASELINE = "import numpy, h5py, pyarrow"  # what any data-path process loads before touching data

GEN = [sys.executable, gen.__file__]  # the jobs that run in child processes
READERS = list(gen.READERS)


@dataclass
class Run:
    seconds: float  # wall time of the child (the read call alone for the readers)
    rss: float  # the child's peak RSS, bytes
    code: int
    out: str
    err: str

    def why(self) -> str:
        if self.code == -9:
            return "timed out (killed)"
        lines = [line.strip() for line in self.err.splitlines() if line.strip()]
        first = next((line for line in lines if line.startswith("Error")), lines[-1] if lines else "")
        return f"exit {self.code}: {first[:200]}"


def run(cmd: list[str], timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd`` (killed after ``timeout`` s): its wall time and its own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN is the maximum over all children so far.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        text = [f.seek(0) or f.read().decode(errors="replace") for f in (out, err)]
    return Run(seconds, usage.ru_maxrss * 1024.0, proc.returncode, *text)


def spread(values: list[float], spec: str = ".2f") -> str | None:
    if not values:
        return None
    med, lo, hi = summary(values)
    return f"{med:{spec}} ({lo:{spec}}–{hi:{spec}})"


def paired(a: list[float | None], b: list[float | None]) -> float | None:
    """Median of the per-round ratios a/b, over the rounds where both ran."""
    ratios = [x / y for x, y in zip(a, b, strict=False) if x is not None and y]
    return statistics.median(ratios) if ratios else None


def rotate(items: list, r: int) -> list:
    return items[r % len(items) :] + items[: r % len(items)]


class Bench:
    """The work dir, the files, and per label one run per round (``None``: it failed)."""

    def __init__(self, args: argparse.Namespace, work: Path, manifest: dict) -> None:
        self.args, self.work, self.rounds = args, work, args.rounds
        self.files, self.sizes, self.hdf5_rows = manifest["paths"], manifest["sizes"], manifest["hdf5_rows"]
        self.reused = manifest["reused"]
        self.cache, self.out = work / "cache", work / "runs"
        gen.clear_dir(self.out)  # run dirs and outputs: nothing a previous run left may stand in for a failed one
        self.env = {**os.environ, "DLCLI_CACHE_DIR": str(self.cache)}  # runs never touch ~/.cache
        self.runs: dict[str, list[Run | None]] = {}
        self.failed: dict[str, str] = {}
        self.has_limit = "--memory-limit" in self.run([DLCLI, "train", "--help"]).out
        self.base = 0.0
        self.got: dict[str, float | None] = {}  # the figures the targets are about

    def run(self, cmd: list[str]) -> Run:
        return run(cmd, self.args.timeout, self.env, self.work)

    def record(self, label: str, r: Run | None, reason: str = "", note: str = "") -> Run | None:
        self.runs.setdefault(label, []).append(r)
        if r is None:
            self.failed.setdefault(label, reason)
        print(f"  {label}: " + (f"{r.seconds:.2f} s, peak RSS {r.rss / MB:,.0f} MB{note}" if r else reason))
        return r

    def measure(self, label: str, cmd: list[str]) -> Run | None:
        r = self.run(cmd)
        return self.record(label, r if r.code == 0 else None, f"FAILED {r.why()}")

    def values(self, label: str, attr: str = "seconds") -> list[float]:
        return [getattr(r, attr) for r in self.runs.get(label, []) if r is not None]

    def median(self, label: str, attr: str = "seconds") -> float | None:
        values = self.values(label, attr)
        return statistics.median(values) if values else None

    def cell(self, label: str, attr: str = "seconds", scale: float = 1.0, spec: str = ".2f") -> str:
        """Median (min–max), else why not: the reasons are listed once, under the tables."""
        got = spread([v / scale for v in self.values(label, attr)], spec)
        reason = self.failed.get(label, "not run")
        return got or ("not available" if "not available" in reason else "failed" if reason else "not run")

    def train(self, data: str, out: str, *extra: str, epochs: int = 1) -> list[str]:
        cmd = [DLCLI, "train", "--data", data, "--target", "y", "--epochs", str(epochs), "--out", str(self.out / out)]
        return [*cmd, "--seed", "0", "--json", "--force", *extra]


def version(pkg: str) -> str:
    try:
        return f"{pkg} {metadata.version(pkg)}"  # the installed version, without importing it here
    except metadata.PackageNotFoundError:
        return f"{pkg} not installed"


def environment(b: Bench) -> list[str]:
    versions = [version(pkg) for pkg in ("numpy", "pyarrow", "pandas", "h5py", "dlcli")]
    pools = b.run([*GEN, "threads"])
    blas = "; ".join(f"{a} {v}, {n} threads" for a, v, n in json.loads(pools.out)) if pools.code == 0 else "unknown"
    return [
        f"Command: `python {' '.join(sys.argv)}`, {date.today()}; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; " + ", ".join(versions) + ".",
        f"Thread pools (threadpoolctl): {blas}; load average at the start "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + ".",
    ]


def read_section(b: Bench) -> list[str]:
    """CSV → float32 matrix, each reader in a fresh process, rounds interleaved."""
    csv, size = b.files["csv"], b.sizes["csv"]
    matrices: dict[str, tuple] = {}
    for r in range(b.rounds):
        for name in rotate(READERS, r):
            got = b.run([*GEN, "read", name, csv])
            res = json.loads(got.out.splitlines()[-1]) if got.code == 0 and got.out.strip() else {}
            if "seconds" not in res:
                reason = f"not available ({res['unavailable']})" if res else f"FAILED {got.why()}"
                b.record(name, None, reason)
                continue
            matrices[name] = (res["shape"], res["dtype"], res["sum"])
            read = Run(res["seconds"], got.rss, 0, "", "")
            b.record(name, read, note=f", {size / MB / read.seconds:,.0f} MB/s")
    lines = ["| reader | seconds | MB/s | peak RSS MB | matrix |", "|---|---:|---:|---:|---|"]
    for name in READERS:
        rate = spread([size / MB / s for s in b.values(name)], ",.0f") or ""
        shape = " ".join(map(str, matrices.get(name, ())[:2]))
        lines.append(f"| `{name}` | {b.cell(name)} | {rate} | {b.cell(name, 'rss', MB, ',.0f')} | {shape} |")
    ref = matrices.get("pandas.read_csv")
    for name, (shape, dtype, total) in matrices.items():
        if ref and (shape != ref[0] or dtype != "float32" or abs(total - ref[2]) > 1e-6 * max(1.0, abs(ref[2]))):
            lines.append(f"\n**`{name}` returns another matrix than pandas**: {shape} {dtype}, sum {total}.")
    ratio = paired(*[[r and r.seconds for r in b.runs[n]] for n in ("dlcli read_matrix", "pandas.read_csv")])
    lines.append(f"\nCSV {size / MB:,.0f} MB; dlcli / pandas (time): {'n/a' if ratio is None else f'{ratio:.2f}'}.")
    b.got["read"] = ratio
    return lines


def cli_section(b: Bench) -> list[str]:
    """train (cold, warm), eval, predict and init on each file, files in rotating order."""
    rows = b.args.rows
    matrix = {"csv": rows * gen.FEATURES * 4.0, "parquet": rows * gen.FEATURES * 4.0}
    matrix["hdf5"] = b.hdf5_rows * gen.HDF5_COLS * 4.0
    for r in range(b.rounds):
        for kind in rotate(list(matrix), r):
            data, extra = b.files[kind], ["--memory-limit", HDF5_LIMIT] if kind == "hdf5" and b.has_limit else []
            # Without the flag, train the HDF5 file only if it fits the limit anyway (smoke runs).
            trainable = kind != "hdf5" or b.has_limit or matrix[kind] <= HDF5_LIMIT_BYTES
            model = None
            for step in ("cold", "warm"):
                if step == "cold":
                    gen.clear_dir(b.cache)  # the first train on a file builds the cache
                if not trainable:
                    b.failed.setdefault(f"{kind} train ({step})", "not available (no `dlcli train --memory-limit`)")
                elif b.measure(f"{kind} train ({step})", b.train(data, f"{kind}-{step}", *extra)):
                    model = str(b.out / f"{kind}-{step}" / "model.h5")
            for cmd, argv in (("eval", ["eval"]), ("predict", ["predict", "--output", f"runs/pred-{kind}.csv"])):
                if model:
                    b.measure(f"{kind} {cmd}", [DLCLI, argv[0], model, data, *argv[1:]])
                else:
                    b.failed.setdefault(f"{kind} {cmd}", "no model (train failed)")
            b.measure(f"{kind} init", [DLCLI, "init", f"runs/init-{kind}", "--data", data, "--target", "y", "--force"])
    lines = [
        "| file | command | wall s | peak RSS MB | float32 matrix MB | (RSS − baseline) / matrix |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, size in matrix.items():
        for cmd in ("train (cold)", "train (warm)", "eval", "predict", "init"):
            label, rss = f"{kind} {cmd}", b.median(f"{kind} {cmd}", "rss")
            over = "" if rss is None else f"{(rss - b.base) / size:.2f}"
            rss_cell = b.cell(label, "rss", MB, ",.0f")
            lines.append(f"| {kind} | {cmd} | {b.cell(label)} | {rss_cell} | {size / MB:,.0f} | {over} |")
    rss = [x for x in (b.median(f"csv train ({step})", "rss") for step in ("cold", "warm")) if x is not None]
    b.got["train_rss"] = (max(rss) - b.base) / matrix["csv"] if rss else None
    return lines


def throughput_section(b: Bench) -> list[str]:
    """samples/s of a few epochs on the CSV, in memory and out of core, interleaved."""
    modes = {"in memory": [], f"--memory-limit {OOC_LIMIT}": ["--memory-limit", OOC_LIMIT]}
    sps: dict[str, list[float | None]] = {mode: [] for mode in modes}
    for r in range(b.rounds):
        for mode, extra in rotate(list(modes.items()), r):
            if extra and not b.has_limit:
                b.failed.setdefault(f"samples/s {mode}", "not available (no `dlcli train --memory-limit`)")
                continue
            # refit off: its epochs are not in samples_per_second, they would only cost time
            cmd = b.train(b.files["csv"], "throughput", *extra, "--set", "train.refit=false", epochs=THROUGHPUT_EPOCHS)
            got = b.measure(f"samples/s {mode}", cmd)
            sps[mode].append(json.loads(got.out).get("samples_per_second") if got else None)
    lines = [
        f"- {mode}: {spread([v for v in sps[mode] if v], ',.0f') or b.cell(f'samples/s {mode}')}" for mode in modes
    ]
    b.got["ooc"] = paired(sps[f"--memory-limit {OOC_LIMIT}"], sps["in memory"])
    return lines


def predict_section(b: Bench) -> list[str]:
    """predict rows/s on the CSV against the baseline, then one-row latency against --help."""
    model = next((m for m in (b.out / "csv-warm" / "model.h5", b.out / "csv-cold" / "model.h5") if m.exists()), None)
    cmds = {
        "dlcli predict": [DLCLI, "predict", str(model), b.files["csv"], "--output", "runs/pred-dlcli.csv"],
        "pyarrow + NumPy baseline": [*GEN, "predict", str(model), b.files["csv"], "runs/base.csv"],
    }
    rates: dict[str, list[float | None]] = {name: [] for name in cmds}
    for r in range(b.rounds if model else 0):
        for name in rotate(list(cmds), r):
            got = b.measure(name, cmds[name])
            rates[name].append(b.args.rows / got.seconds if got else None)
    for _ in range(LATENCY_RUNS if model else 0):
        b.measure("predict one row", [DLCLI, "predict", str(model), b.files["one_row"]])
        b.measure("dlcli --help", [DLCLI, "--help"])
    outputs = [b.out / "pred-dlcli.csv", b.out / "base.csv"]
    same = all(p.exists() for p in outputs) and filecmp.cmp(*outputs, shallow=False)
    if not model:
        for name in (*cmds, "predict one row"):
            b.failed.setdefault(name, "no model (the CSV train failed)")
    lines = [
        f"- {name}: {spread([v for v in rates[name] if v], ',.0f') or b.cell(name)} rows/s; "
        f"{b.cell(name)} s; peak RSS {b.cell(name, 'rss', MB, ',.0f')} MB"
        for name in cmds
    ]
    lines.append(f"- the two wrote identical files: {'yes' if same else 'no'}")
    one, helps = b.cell("predict one row", spec=".3f"), b.cell("dlcli --help", spec=".3f")
    lines.append(f"- one-row predict: {one} s; `dlcli --help`: {helps} s ({LATENCY_RUNS} runs interleaved)")
    b.got["predict"] = paired(rates["dlcli predict"], rates["pyarrow + NumPy baseline"])
    b.got["latency"] = b.median("predict one row")
    return lines


def scale_section(b: Bench) -> list[str]:
    """Peak RSS of train --epochs 1 by rows, cold cache each time; slope by least squares."""
    sizes = gen.subset_rows(b.args.rows)
    variants = {"in memory": []} | (
        {f"--memory-limit {OOC_LIMIT}": ["--memory-limit", OOC_LIMIT]} if b.has_limit else {}
    )
    for r in range(b.rounds):
        for n in rotate(sizes, r):
            for variant, extra in variants.items():
                gen.clear_dir(b.cache)
                b.measure(f"train {n:,} rows, {variant}", b.train(b.files[f"rows-{n}"], f"scale-{n}", *extra))
    lines = ["| rows | float32 matrix MB | " + " | ".join(f"peak RSS MB, {v}" for v in variants) + " |"]
    lines.append("|---:|---:|" + "---:|" * len(variants))
    for n in sizes:
        cells = " | ".join(b.cell(f"train {n:,} rows, {v}", "rss", MB, ",.0f") for v in variants)
        lines.append(f"| {n:,} | {n * gen.FEATURES * 4 / MB:,.1f} | {cells} |")
    slopes: dict[str, float | None] = {}
    for variant in variants:
        points = [(n / 1e5, b.median(f"train {n:,} rows, {variant}", "rss")) for n in sizes]
        xy = [(x, y / MB) for x, y in points if y is not None]
        slopes[variant] = statistics.linear_regression(*zip(*xy, strict=True)).slope if len(xy) >= 2 else None
    text = ", ".join(f"{v} {'n/a' if s is None else f'{s:,.1f}'}" for v, s in slopes.items())
    lines += ["", f"MB per 100k rows: {text}; float32 matrix {1e5 * gen.FEATURES * 4 / MB:.0f}."]
    ends = [b.median(f"train {n:,} rows, --memory-limit {OOC_LIMIT}", "rss") for n in (sizes[0], sizes[-1])]
    b.got["slope"] = slopes["in memory"]
    b.got["growth"] = (ends[1] - ends[0]) / MB if None not in ends else None  # type: ignore[operator]
    return lines


def verdict(name: str, got: float | None, goal: str, ok: Callable[[float], bool], why: str) -> str:
    if got is None:
        return f"- {name}: not measured, {why or 'see above'}; target {goal}"
    return f"- {name}: {got:,.2f}; target {goal}: **{'met' if ok(got) else 'missed'}**"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the CSV (subsets: 10%% and 30%%)")
    parser.add_argument("--hdf5-gb", type=float, default=4.0, help="size of the float32 HDF5 /X, GB")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the data here and reuse it; its cache/ and runs/ are emptied (default: a temporary dir)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for any one subprocess")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="dlcli-data-scale-", dir="/tmp"))).resolve()
    print(f"work dir {work}")
    size_args = ["--rows", str(args.rows), "--hdf5-gb", str(args.hdf5_gb)]
    try:
        made = run([*GEN, "generate", str(work), *size_args], args.timeout)
        if made.code != 0:
            sys.exit(f"generating the data failed: {made.why()}")
        report(args, Bench(args, work, json.loads(made.out.splitlines()[-1])))
    finally:
        if not args.workdir:  # a temporary work dir goes, even when a run failed; --workdir stays
            shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, b: Bench) -> None:
    """Measure every section, print the figures and write the docs section."""
    print(("reused: " if b.reused else "generated: ") + ", ".join(f"{k} {v / MB:,.1f} MB" for k, v in b.sizes.items()))
    for key in ("csv", "parquet", "hdf5"):  # into the page cache, so that no first run pays the disk
        with open(b.files[key], "rb", buffering=0) as handle:
            while handle.read(1 << 23):
                pass
    head = environment(b)
    print("\n".join(head) + "\nbaselines")
    for _ in range(b.rounds):
        b.measure("dlcli --version", [DLCLI, "--version"])
        b.measure(BASELINE, [sys.executable, "-c", BASELINE])
    b.base = b.median(BASELINE, "rss") or 0.0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
    print(f"this process's peak RSS: {own:.0f} MB (a floor under every child's figure)")
    version_rss = (b.median("dlcli --version", "rss") or 0) / MB
    body = [
        "## Data path at scale (`bench/data_scale.py`)",
        f"CSV {args.rows:,} rows × {gen.FEATURES} float features + binary `y` ({b.sizes['csv'] / MB:,.0f} MB); "
        f"the same as Parquet ({b.sizes['parquet'] / MB:,.0f} MB); HDF5 /X {b.hdf5_rows:,} × {gen.HDF5_COLS} "
        f"float32 ({b.sizes['hdf5'] / MB:,.0f} MB). Median (min–max) over {b.rounds} interleaved rounds, every "
        f"command a fresh process; peak RSS is its `ru_maxrss`. Baseline RSS: `python -c '{BASELINE}'` "
        f"{b.base / MB:.0f} MB (`dlcli --version` {version_rss:.0f} MB).",
        *head,
    ]
    limit = f"`--memory-limit {HDF5_LIMIT}`" + ("" if b.has_limit else ", which dlcli does not have yet")
    sections = {
        "CSV → float32 matrix (seconds of the read call alone, in a fresh process)": read_section,
        f"CLI commands (cold: dlcli's cache emptied first; the HDF5 train with {limit})": cli_section,
        f"Training samples/s on the CSV ({THROUGHPUT_EPOCHS} epochs, `--set train.refit=false`)": throughput_section,
        "predict on the CSV (wall time of the whole process)": predict_section,
        "train --epochs 1 peak RSS by rows (cold cache)": scale_section,
    }
    for title, section in sections.items():
        print(title)
        body += ["", f"### {title}", *section(b)]

    sizes, three = gen.subset_rows(args.rows), 3 * 1e5 * gen.FEATURES * 4 / MB
    ooc = f"samples/s --memory-limit {OOC_LIMIT}"
    checks = [  # name, figure, goal, whether it meets the goal, the label saying why it was not measured
        ("dlcli / pandas CSV read time", "read", "≤ 1.0", lambda v: v <= 1.0, "dlcli read_matrix"),
        (f"train --epochs 1 on the {args.rows:,}-row CSV: (peak RSS − baseline) / matrix, worse of cold and warm",
         "train_rss", "≤ 3", lambda v: v <= 3, "csv train (cold)"),
        ("samples/s out of core / in memory", "ooc", "≥ 0.85", lambda v: v >= 0.85, ooc),
        ("predict rows/s, dlcli / baseline", "predict", "≥ 0.8", lambda v: v >= 0.8, "dlcli predict"),
        ("one-row predict, s", "latency", "≤ 0.25", lambda v: v <= 0.25, "predict one row"),
        ("train RSS slope in memory, MB per 100k rows", "slope", f"≤ 3 × matrix = {three:.0f}", lambda v: v <= three,
         f"train {sizes[-1]:,} rows, in memory"),
        (f"out-of-core train RSS growth {sizes[0]:,} → {sizes[-1]:,} rows, MB", "growth", f"≤ {OOC_LIMIT} (flat)",
         lambda v: v * MB <= OOC_BYTES, ooc),
    ]  # fmt: skip
    if b.failed:
        body += ["", "### Not measured", *[f"- {label}: {reason}" for label, reason in b.failed.items()]]
    body += ["", "### Targets"]
    body += [verdict(n, b.got.get(k), goal, ok, b.failed.get(w, "")) for n, k, goal, ok, w in checks]
    text = "\n".join(body)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}\n\n{text}")
    if not args.no_write:
        write_section("data_scale", text)


if __name__ == "__main__":
    main()
