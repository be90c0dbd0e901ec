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


def stdout_is_terminal() -> bool:
    return not _surely_plain(sys.stdout) and out().is_terminal


def tsv(*fields: Any) -> None:
    """One tab-separated line on stdout; a tab or newline inside a field becomes a space, so
    ``cut -f`` always finds the same columns."""
    sys.stdout.write("\t".join(_cell(field) for field in fields) + "\n")


def _cell(value: Any) -> str:
    text = "" if value is None else fmt(value)
    return text.translate(_PLAIN_CELL)


_PLAIN_CELL = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], right: Sequence[str] = (), wide: bool = False
) -> None:
    """Rows on stdout: a Rich table on a terminal (``wide``: without vertical rules, so many
    columns fit a terminal's width); in a pipe a tab-separated header line and one
    tab-separated line per row (no title: every line is data or the header)."""
    if not stdout_is_terminal():
        tsv(*columns)
        for row in rows:
            tsv(*row)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    frame = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "padding": (0, 1, 0, 0)} if wide else {}
    table = Table(title=title, header_style="bold", **frame)  # type: ignore[arg-type]
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))  # Text: a value is never read as markup
    out().print(table)


def print_metrics(title: str, metrics: dict[str, Any]) -> None:
    """Metrics on stdout: a table on a terminal, ``name<TAB>value`` lines in a pipe."""
    if stdout_is_terminal():
        out().print(metrics_table(title, metrics))
    else:
        for name, value in metrics.items():
            tsv(name, value)


def print_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[Any]) -> None:
    """A confusion matrix on stdout: a table on a terminal, a header line and one line per true
    class in a pipe, every field tab-separated (written as is, so a label is never markup)."""
    if stdout_is_terminal():
        out().print(confusion_table(matrix, labels))
        return
    tsv("confusion_matrix", *labels)
    for label, row in zip(labels, matrix, strict=True):
        tsv(label, *row)


def confusion_table(matrix: Sequence[Sequence[int]], labels: Sequence[Any]) -> Table:
    from rich.table import Table

    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("")
    for label in labels:
        table.add_column(str(label), justify="right")
    for label, row in zip(labels, matrix, strict=True):
        table.add_row(str(label), *(str(v) for v in row))
    return table


# Markers by role, so training and validation read apart even without colour.
TRAIN_MARKER, VAL_MARKER, BEST_MARKER = "●", "×", "★"
# A chart whose values span more than this ratio (two decades) gets a log scale.
LOG_SCALE_RATIO = 100.0


def line_chart(
    series: dict[str, list[float | None]],
    height: int = 8,
    width: int = 60,
    best: int | None = None,
    x_label: str = "epochs",
    first: int = 1,
) -> str:
    """A small chart in text for a run's curves: ``●`` training, ``×`` validation series, one
    value per epoch (index 0 = epoch 1); ``best`` (an epoch) is marked ``★`` on the validation
    curve (else the training one) and ``┴`` on the axis. Positive values spanning more than two
    decades are drawn on a log scale."""
    clean = {k: [v for v in vals if v is not None and math.isfinite(v)] for k, vals in series.items()}
    clean = {k: v for k, v in clean.items() if v}
    if not clean:
        return ""
    lo = min(min(v) for v in clean.values())
    hi = max(max(v) for v in clean.values())
    log_scale = lo > 0 and hi / lo > LOG_SCALE_RATIO

    def scale(value: float) -> float:
        return math.log10(value) if log_scale else value

    bottom, top = scale(lo), scale(hi)
    span = (top - bottom) or 1.0
    epochs = max(len(v) for v in series.values())
    grid = [[" "] * width for _ in range(height)]

    def row_of(value: float) -> int:
        return height - 1 - round((scale(value) - bottom) / span * (height - 1))

    for name, values in series.items():
        marker = VAL_MARKER if name.startswith("val_") else TRAIN_MARKER
        for col, value in _resample(values, width):
            if value is not None and math.isfinite(value):
                grid[row_of(value)][col] = marker
    best_col = None
    if best is not None and 1 <= best <= epochs:
        best_col = _column(best - 1, epochs, width)
        marked = next((n for n in series if n.startswith("val_")), next(iter(series)))
        value = series[marked][best - 1] if best - 1 < len(series[marked]) else None
        if value is not None and math.isfinite(value):
            grid[row_of(value)][best_col] = BEST_MARKER

    def label(i: int) -> str:
        level = top if i == 0 else bottom if i == height - 1 else bottom + span * (height - 1 - i) / (height - 1)
        return fmt(10**level if log_scale else level)

    lines = [f"{label(i):>10} │" + "".join(r) for i, r in enumerate(grid)]
    axis = ["─"] * width
    if best_col is not None:
        axis[best_col] = "┴"
    lines.append(" " * 11 + "└" + "".join(axis))
    legend = [f"{VAL_MARKER if n.startswith('val_') else TRAIN_MARKER} {n}" for n in clean]
    if best_col is not None:
        legend.append(f"{BEST_MARKER} best epoch {best}")
    if log_scale:
        legend.append("log scale")
    lines.append(" " * 12 + f"{x_label} {first}–{first + epochs - 1}   " + "   ".join(legend))
    return "\n".join(lines)


def _column(index: int, n: int, width: int) -> int:
    """The chart column of the ``index``-th of ``n`` values (as :func:`_resample` places them)."""
    if n <= width:
        return min(width - 1, int(index * width / max(n, 1)))
    return min(width - 1, int(index * width / n))


def _resample(values: Sequence[float | None], width: int) -> Iterable[tuple[int, float | None]]:
    n = len(values)
    if n <= width:
        return ((_column(i, n, width), v) for i, v in enumerate(values))
    return ((c, values[min(n - 1, int(c * n / width))]) for c in range(width))
