"""Start-up time of ``dlcli --help`` against Python importing typer and rich alone.

Runs both commands interleaved (default 15 rounds), prints medians with min–max, checks that
neither boto3 nor h5py (nor NumPy) is imported by ``--help``, and writes the figures into
docs/benchmarks.md. Target: ≤ 0.25 s.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from datetime import date

from _report import summary, write_section

TARGET_SECONDS = 0.25
COMMANDS = {
    "dlcli --help": [sys.executable, "-m", "dlcli", "--help"],
    "python -c 'import typer, rich.console'": [sys.executable, "-c", "import typer, rich.console"],
    "python -c 'pass'": [sys.executable, "-c", "pass"],
}


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_imports() -> list[str]:
    code = (
        "import sys, runpy; sys.argv=['dlcli','--help']\n"
        "try:\n    runpy.run_module('dlcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY:' + ','.join(m for m in ('boto3', 'botocore', 'h5py', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("HEAVY:"))
    return [m for m in line[len("HEAVY:") :].split(",") if m]


def main(rounds: int = 15) -> None:
    for argv in COMMANDS.values():  # warm the file cache
        time_once(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, argv in COMMANDS.items():
            times[name].append(time_once(argv))
    imported = heavy_imports()
    rows = []
    for name, values in times.items():
        med, lo, hi = summary(values)
        rows.append(f"| `{name}` | {med:.3f} | {lo:.3f}–{hi:.3f} |")
        print(f"{name:45s} median {med:.3f}s  (min {lo:.3f}, max {hi:.3f})")
    med = summary(times["dlcli --help"])[0]
    verdict = "met" if med <= TARGET_SECONDS else "MISSED"
    print(f"target ≤ {TARGET_SECONDS}s: {verdict}; heavy modules imported by --help: {imported or 'none'}")
    body = "\n".join(
        [
            "## Start-up (`bench/startup.py`)",
            f"Measured {date.today()} on {platform.machine()}, Python {platform.python_version()}, "
            f"{rounds} interleaved rounds.",
            "",
            "| command | median s | min–max s |",
            "|---|---|---|",
            *rows,
            "",
            f"Target `dlcli --help` ≤ {TARGET_SECONDS} s: **{verdict}**. Heavy modules imported by `--help`: "
            f"{', '.join(imported) if imported else 'none (boto3, h5py and NumPy are imported lazily)'}.",
        ]
    )
    write_section("startup", body)


if __name__ == "__main__":
    main()
