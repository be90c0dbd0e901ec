"""``dlcli plot``: a run's loss and metric curves, as a PNG/SVG picture or in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlcli.cli import render
from dlcli.cli.common import JsonOpt


def plot(
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="Run directory (or a run's name under runs/).", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the picture here: .png or .svg.", show_default=False
        ),
    ] = None,
    terminal: Annotated[
        bool, typer.Option("--terminal", help="Draw the curves as text on stdout (the default without --output).")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Draw a run's loss and metric curves from its history.jsonl, or a tune directory's search.

    With --output FILE.png or FILE.svg (format from the suffix) the curves are drawn with
    matplotlib, the plot extra: pip install 'dlcli[plot]' (without it: exit 2 and how to
    install it). Without --output, or with --terminal, they are drawn as text: ● training,
    × validation, ★ the best epoch, a log scale when the loss spans more than two decades.

    A tune directory (dlcli tune) is drawn as its search: the score of every trial (complete,
    pruned, failed) with the best so far, and the importance of each tuned setting; this
    needs the tune extra too.

    Example: dlcli plot runs/iris --output iris.png
    """
    from dlcli.workflows.plots import curves, write_plot
    from dlcli.workflows.searchplot import is_tune_directory

    if is_tune_directory(run):
        _plot_search(run, output, terminal, json_)
        return
    from dlcli.workflows.runs import run_history

    info, history = run_history(run)
    fmt = None
    if output is not None:
        fmt = write_plot(history, output, title=f"{info.name} ({info.task or 'run'})", best_epoch=info.best_epoch)
    if json_:
        payload: dict[str, Any] = {"run": info.path, "epochs": len(history), "best_epoch": info.best_epoch}
        payload["series"] = [name for panel in curves(history) for name in panel]
        payload["output"] = None if output is None else str(output)
        payload["format"] = fmt
        render.emit_json(payload)
        return
    if output is not None:
        render.tsv("wrote", output)
    if output is None or terminal:
        for panel in curves(history):
            typer.echo(render.line_chart(panel, best=info.best_epoch))


def _plot_search(directory: str, output: Path | None, terminal: bool, json_: bool) -> None:
    from dlcli.workflows.searchplot import search_report, write_search_plot

    report = search_report(directory)
    fmt = write_search_plot(report, output) if output is not None else None
    if json_:
        payload = {"tune": directory, "trials": len(report.trials), "metric": report.metric}
        payload |= {"importances": report.importances, "output": None if output is None else str(output), "format": fmt}
        render.emit_json(payload)
        return
    if output is not None:
        render.tsv("wrote", output)
    if output is None or terminal:
        values = [t.value if t.state == "complete" else None for t in report.trials]
        typer.echo(f"{report.metric} per trial (complete trials), and the best so far:")
        typer.echo(
            render.line_chart({report.metric: values, "best so far": report.best_so_far()}, x_label="trials", first=0)
        )
        if report.importances:
            typer.echo("importance (PED-ANOVA):")
            width = max(map(len, report.importances))
            for name, value in report.importances.items():
                typer.echo(f"  {name:<{width}}  {value:5.3f} {'█' * round(value * 40)}")
