"""Rendering: results to stdout (tables or JSON), progress and logs to stderr.

Rich is used on a terminal; in a pipe or a CI log the output is plain lines. ``NO_COLOR``
and ``FORCE_COLOR`` are honoured through Rich. Rich is imported only when a console or a
table is first asked for: about 20 ms that ``dlcli --help`` and a JSON or CSV result never
need.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_stdout: Console | None = None
_stderr: Console | None = None


def out() -> Console:
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        from rich.console import Console

        _stdout = Console(file=sys.stdout, soft_wrap=True, highlight=False)
    return _stdout


def err() -> Console:
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        from rich.console import Console

        _stderr = Console(file=sys.stderr, soft_wrap=True, highlight=False)
    return _stderr


def stderr_is_terminal() -> bool:
    return not _surely_plain(sys.stderr) and err().is_terminal


def _surely_plain(stream: Any) -> bool:
    """Whether Rich would call ``stream`` no terminal, decided without importing Rich: it is
    not a tty, and neither ``TTY_COMPATIBLE=1`` nor ``FORCE_COLOR`` asks to treat it as one.
    When this says no, Rich decides."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR", "") != "":
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed: Rich says no terminal too
        return True


def emit_json(payload: Any) -> None:
    """One JSON document on stdout (NaN/inf become null so any JSON parser reads it)."""
    sys.stdout.write(json.dumps(_finite(payload), indent=2, default=str) + "\n")
    sys.stdout.flush()


def log(message: str, quiet: bool = False) -> None:
    """A progress or status line on stderr."""
    if not quiet:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4f}"
    return str(value)


def metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, fmt(value))
    return table


def print_metrics(title: str, metrics: dict[str, Any]) -> None:
    """Metrics on stdout: a table on a terminal, ``name<TAB>value`` lines in a pipe."""
    if not _surely_plain(sys.stdout) and out().is_terminal:
        out().print(metrics_table(title, metrics))
    else:
        for name, value in metrics.items():
            sys.stdout.write(f"{name}\t{fmt(value)}\n")


def print_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[Any]) -> None:
    """A confusion matrix on stdout: a table on a terminal, a header line and one line per true
    class in a pipe (written as is, so a label is never read as Rich markup)."""
    if not _surely_plain(sys.stdout) and out().is_terminal:
        out().print(confusion_table(matrix, labels))
        return
    sys.stdout.write("confusion_matrix\t" + " ".join(map(str, labels)) + "\n")
    for label, row in zip(labels, matrix, strict=True):
        sys.stdout.write(f"{label}\t" + " ".join(map(str, row)) + "\n")


def confusion_table(matrix: Sequence[Sequence[int]], labels: Sequence[Any]) -> Table:
    from rich.table import Table

    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("")
    for label in labels:
        table.add_column(str(label), justify="right")
    for label, row in zip(labels, matrix, strict=True):
        table.add_row(str(label), *(str(v) for v in row))
    return table


def line_chart(series: dict[str, list[float]], height: int = 8, width: int = 60) -> str:
    """A small multi-series chart in text, one marker per series, for loss curves."""
    markers = "●○◆◇"
    clean = {k: [v for v in vals if v is not None and math.isfinite(v)] for k, vals in series.items()}
    clean = {k: v for k, v in clean.items() if v}
    if not clean:
        return ""
    lo = min(min(v) for v in clean.values())
    hi = max(max(v) for v in clean.values())
    span = (hi - lo) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for values, marker in zip(clean.values(), markers, strict=False):
        for col, value in _resample(values, width):
            row = height - 1 - round((value - lo) / span * (height - 1))
            grid[row][col] = marker
    lines = [
        f"{fmt(hi if i == 0 else lo if i == height - 1 else lo + span * (height - 1 - i) / (height - 1)):>10} │"
        + "".join(r)
        for i, r in enumerate(grid)
    ]
    lines.append(" " * 11 + "└" + "─" * width)
    legend = "   ".join(f"{m} {n}" for n, m in zip(clean, markers, strict=False))
    lines.append(" " * 12 + f"epochs 1–{max(len(v) for v in clean.values())}   {legend}")
    return "\n".join(lines)


def _resample(values: list[float], width: int) -> Iterable[tuple[int, float]]:
    n = len(values)
    if n <= width:
        step = width / max(n, 1)
        return ((min(width - 1, int(i * step)), v) for i, v in enumerate(values))
    return ((c, values[min(n - 1, int(c * n / width))]) for c in range(width))
