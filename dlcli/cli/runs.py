"""``dlcli runs``: the run directories under a directory as a table, or two of them compared."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from dlcli.cli import render
from dlcli.cli.common import JsonOpt
from dlcli.errors import UsageError
from dlcli.workflows.runs import COMPARED, SORT_KEYS

# The listing's columns: header → the RunInfo field shown under it.
COLUMNS = {
    "run": "name",
    "status": "status",
    "created": "created",
    "task": "task",
    "data": "data",
    "epochs": "epochs",
    "best": "best_epoch",
    "metric": "metric",
    "value": "value",
    "params": "params",
    "bytes": "bytes",
}
NUMERIC = ("epochs", "best", "value", "params", "bytes")


def runs_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DIR | RUN_A RUN_B",
            help="Directory holding run directories (default: runs); with --compare, the two runs.",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="KEY", help=f"Sort by one of: {', '.join(SORT_KEYS)} (metric: best first).", show_default=True
        ),
    ] = "created",
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.")] = False,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Compare two runs (paths, or names under runs/): config differences, metrics."),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """List the runs under a directory: name, created, task, data, epochs, best epoch, the
    main validation metric and the model size.

    The metric is the validation accuracy for classification and R² for regression (the best
    epoch's val_loss when metrics.json has neither). A run still training, killed or damaged
    is listed with its status (incomplete, damaged) and one warning line on stderr says why.
    --compare RUN_A RUN_B shows the two runs side by side: summary, the config keys that
    differ, and every validation metric.

    Example: dlcli runs runs --sort metric && dlcli runs --compare runs/iris-1 runs/iris-2
    """
    from dlcli.workflows.runs import compare_runs, list_runs

    given = list(paths or [])
    if compare:
        if len(given) != 2:
            raise UsageError(f"--compare takes two runs, got {len(given)}.", hint="dlcli runs --compare RUN_A RUN_B")
        comparison = compare_runs(*given)
        if json_:
            render.emit_json(comparison.to_json())
        else:
            _print_comparison(comparison)
        return
    if len(given) > 1:
        raise UsageError(
            f"dlcli runs lists one directory, got {len(given)}.", hint="Add --compare to compare two runs."
        )
    root = given[0] if given else "runs"
    runs = list_runs(root, sort=sort, reverse=reverse)
    if json_:
        render.emit_json({"dir": root, "runs": [r.to_json() for r in runs]})
    elif runs and not render.stdout_is_terminal():
        rows = ([_shown(getattr(r, field)) for field in COLUMNS.values()] for r in runs)
        render.print_table(f"runs in {root}", list(COLUMNS), rows, right=NUMERIC)
    elif runs:  # a terminal: the same runs, narrower (--json and a pipe keep every digit)
        header = ["run", "status", "created", "task", "data", "epochs", "best", "validation", "params", "size"]
        numeric = ("epochs", "best", "params", "size")
        render.print_table(f"runs in {root}", header, map(_compact, runs), right=numeric, wide=True)
    else:
        render.log(f"No run directories in {root}.")
    troubled = [r for r in runs if r.problems]
    if troubled:
        render.log("Warning: " + "; ".join(f"{r.name}: {r.status} ({', '.join(r.problems)})" for r in troubled))


def _compact(run: Any) -> list[Any]:
    created = (run.created or "")[:16].replace("T", " ")
    data = run.data.rstrip("/").rsplit("/", 1)[-1] if run.data else ""
    metric = "" if run.value is None else f"{run.metric.removeprefix('val_')} {render.fmt(run.value)}"
    params = "" if run.params is None else f"{run.params:,}"
    size = "" if run.bytes is None else _size(run.bytes)
    epochs, best = _shown(run.epochs), _shown(run.best_epoch)
    return [run.name, run.status, created, run.task or "", data, epochs, best, metric, params, size]


def _size(n: int) -> str:
    """``60932`` → ``59.5 KiB``."""
    exponent = 0 if n < 1024 else min(3, int(math.log(n, 1024)))
    return f"{n} B" if exponent == 0 else f"{n / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"


def _shown(value: Any) -> Any:
    return "" if value is None else value


def _print_comparison(comparison: Any) -> None:
    a, b = comparison.a, comparison.b
    header = ["key", a.name if a.name != b.name else a.path, b.name if a.name != b.name else b.path]
    rows = [[key, _shown(getattr(a, key)), _shown(getattr(b, key))] for key in COMPARED]
    rows += [[key, _shown(x), _shown(y)] for key, x, y in comparison.metrics]
    rows += [[key, _shown(x), _shown(y)] for key, x, y in comparison.config]
    if not comparison.config:
        rows.append(["config", "same", "same"])
    render.print_table("runs compared (config: only the keys that differ)", header, rows)
