"""Training progress: a Rich bar on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

from typing import Any

from dlcli.cli import render

SHOWN_METRICS = ("accuracy", "f1_macro", "r2", "rmse")


def epoch_line(record: Any, total: int) -> str:
    """``epoch 3/100  loss 0.4123  val_loss 0.3990  val_accuracy 0.9333  lr 1.0e-03  0.1s  12345 samples/s``"""
    parts = [f"epoch {record.epoch}/{total}", f"loss {render.fmt(record.loss)}"]
    parts += [f"{k} {render.fmt(v)}" for k, v in record.metrics.items() if k in SHOWN_METRICS]
    if record.val_loss is not None:
        parts.append(f"val_loss {render.fmt(record.val_loss)}")
    parts += [f"val_{k} {render.fmt(v)}" for k, v in record.val_metrics.items() if k in SHOWN_METRICS]
    parts.append(f"lr {record.lr:.1e}")
    parts.append(f"{record.seconds:.2f}s" if record.seconds >= 1 else f"{record.seconds * 1000:.0f}ms")
    parts.append(f"{record.samples_per_second:,.0f} samples/s")
    if record.improved:
        parts.append("*")
    return "  ".join(parts)


def short_status(record: Any) -> str:
    """What fits beside a progress bar: the losses and one headline validation metric."""
    parts = [f"loss {render.fmt(record.loss)}"]
    if record.val_loss is not None:
        parts.append(f"val_loss {render.fmt(record.val_loss)}")
    for key in ("accuracy", "rmse", "r2"):
        if key in record.val_metrics:
            parts.append(f"val_{key} {render.fmt(record.val_metrics[key])}")
    return "  ".join(parts) + ("  *" if record.improved else "")


class EpochProgress:
    """Context manager that shows each epoch record as it arrives."""

    def __init__(self, total: int, start: int = 0, quiet: bool = False, label: str = "epoch") -> None:
        self.total, self.label = total, label
        self.start = start
        self.quiet = quiet
        self.live = not quiet and render.stderr_is_terminal()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(self.label),
                MofNCompleteColumn(),
                BarColumn(bar_width=30),
                TimeElapsedColumn(),
                TextColumn("{task.fields[status]}"),
                console=render.err(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, completed=self.start, status="")
        return self

    def update(self, record: Any) -> None:
        if self.quiet:
            return
        if self.live:
            self._progress.update(self._task, completed=record.epoch, status=short_status(record))
        else:
            line = epoch_line(record, self.total)
            render.log(line if self.label == "epoch" else f"{self.label} {line}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def print_summary(result: Any, quiet: bool) -> None:
    """After training: where things went, the final metrics, and the loss curves (in a pipe,
    ``name<TAB>value`` lines)."""
    if not render.stdout_is_terminal():
        facts = [("model", result.model), ("run_dir", result.run_dir), ("epochs_run", result.epochs_run)]
        facts += [("best_epoch", result.best_epoch), ("seconds", round(result.seconds, 1))]
        facts += [("samples_per_second", round(result.samples_per_second)), *(("pushed", p) for p in result.pushed)]
        facts += [(key, getattr(result, key)) for key in ("trained_as", "metrics_from") if getattr(result, key)]
        for name, value in facts:
            render.tsv(name, value)
        render.print_metrics("validation metrics", result.metrics)
        _curves(result, quiet)
        return
    console = render.out()
    console.print(f"model: {result.model}" + (f" ({result.trained_as})" if result.trained_as else ""), markup=False)
    console.print(f"run directory: {result.run_dir}")
    console.print(
        f"epochs: {result.epochs_run} (best {result.best_epoch}), {result.seconds:.1f}s, "
        f"{result.samples_per_second:,.0f} samples/s"
    )
    for line in result.pushed:
        console.print(f"pushed: {line}")
    render.print_metrics("validation metrics of the selection run (rows it never trained on)", result.metrics)
    _curves(result, quiet)


def _curves(result: Any, quiet: bool) -> None:
    """The run's curves on stderr, when that is a terminal."""
    if not quiet and render.stderr_is_terminal() and len(result.history) > 1:
        from dlcli.workflows.plots import curves

        for panel in curves(result.history):
            render.err().print(render.line_chart(panel, best=result.best_epoch), markup=False)
