"""A run's curves: which series go together, and the picture ``dlcli plot --output`` writes.

matplotlib is optional (``pip install 'dlcli[plot]'``) and imported only when a picture is
drawn, with the Agg backend (no display needed, the same pixels everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcli import files
from dlcli.errors import UsageError, setting

# The panels a run's curves are drawn in, each a training series and its validation twin;
# a panel appears when the history holds any of its series. The terminal curves after
# training, `dlcli plot` on a terminal and the picture all read this.
CURVES: tuple[tuple[str, str], ...] = (("loss", "val_loss"), ("accuracy", "val_accuracy"), ("r2", "val_r2"))
# Picture formats by file suffix.
FORMATS = ("png", "svg")
# A loss whose largest value is this many times its smallest is drawn on a log scale.
LOG_SCALE_RATIO = 100.0
INSTALL_HINT = "Install the plot extra: pip install 'dlcli[plot]' (or pip install matplotlib)."


def curves(history: Sequence[dict[str, Any]]) -> list[dict[str, list[float | None]]]:
    """The panels of :data:`CURVES` that ``history`` holds: series name → value per epoch."""
    panels = []
    for names in CURVES:
        panel = {n: [_number(row.get(n)) for row in history] for n in names}
        panel = {n: values for n, values in panel.items() if any(v is not None for v in values)}
        if panel:
            panels.append(panel)
    return panels


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def wants_log_scale(values: Sequence[float | None]) -> bool:
    """Whether a loss spans more than two decades (and is positive, so a log axis can hold it)."""
    finite = [v for v in values if v is not None]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > LOG_SCALE_RATIO


def picture_format(output: Path) -> str:
    """``png`` or ``svg`` from ``output``'s suffix."""
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(
            f"Cannot tell the picture format of '{output}': expected a file ending in "
            f"{' or '.join('.' + f for f in FORMATS)}.",
            hint=f"For example {setting('output', 'curves.png')}.",
        )
    return fmt


def write_plot(history: Sequence[dict[str, Any]], output: Path, *, title: str, best_epoch: int | None) -> str:
    """Draw ``history``'s curves into ``output`` (PNG or SVG by suffix), atomically; the format.

    Raises
    ------
    UsageError
        The suffix is neither .png nor .svg, or matplotlib is not installed (exit 2, as for
        the other optional extras).
    """
    fmt = picture_format(output)
    pyplot = _pyplot()
    panels = curves(history)
    epochs = [int(row["epoch"]) for row in history]
    figure, axes = pyplot.subplots(len(panels), 1, figsize=(7.0, 2.8 * len(panels) + 0.4), sharex=True, squeeze=False)
    try:
        for axis, panel in zip(axes[:, 0], panels, strict=True):
            _draw_panel(axis, epochs, panel, best_epoch)
        axes[0, 0].set_title(title)
        axes[-1, 0].set_xlabel("epoch")
        figure.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(output) as temporary:
            figure.savefig(temporary, format=fmt, dpi=120)
    finally:
        pyplot.close(figure)
    return fmt


def _draw_panel(axis: Any, epochs: list[int], panel: dict[str, list[float | None]], best: int | None) -> None:
    for name, values in panel.items():
        points = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
        validation = name.startswith("val_")
        axis.plot(
            [e for e, _ in points],
            [v for _, v in points],
            label=name,
            marker="x" if validation else "o",
            markersize=3 if len(points) < 60 else 0,
            linestyle="--" if validation else "-",
        )
    if "loss" in next(iter(panel)) and wants_log_scale([v for values in panel.values() for v in values]):
        axis.set_yscale("log")
    if best is not None:
        axis.axvline(best, color="grey", linestyle=":", linewidth=1, label=f"best epoch {best}")
    axis.set_ylabel(next(iter(panel)).removeprefix("val_"))
    axis.grid(True, alpha=0.3)
    axis.legend(loc="best", fontsize="small")


def require_matplotlib() -> None:
    """Fail now (exit 2, with the install hint) when no picture could be drawn later."""
    _pyplot()


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UsageError("Drawing a picture needs matplotlib, which is not installed.", hint=INSTALL_HINT) from None
    matplotlib.use("Agg")  # no display: the same output on a laptop, a server and CI
    import matplotlib.pyplot as pyplot

    return pyplot


PLOT_FEATURES = 20  # features drawn by explain's picture: the most important first


def write_explain_plot(
    bars: Sequence[tuple[str, float, float]],
    output: Path,
    *,
    title: str,
    xlabel: str,
    swarm: tuple[list[str], Any, Any] | None = None,
) -> str:
    """Importance bars (feature, value, error) and, with ``swarm`` (feature names, attributions
    ``(rows, n_features)``, feature values ``(rows, n_features)``, NaN for categorical), a
    beeswarm-style summary: one dot per row and feature, coloured by the feature's value."""
    fmt = picture_format(output)
    pyplot = _pyplot()
    shown = list(bars)[:PLOT_FEATURES][::-1]  # largest on top
    panels = 2 if swarm is not None else 1
    height = 0.32 * len(shown) + 1.2
    figure, axes = pyplot.subplots(1, panels, figsize=(6.0 * panels, height), squeeze=False)
    try:
        axis = axes[0, 0]
        axis.barh([n for n, _, _ in shown], [v for _, v, _ in shown], xerr=[e for _, _, e in shown], color="#4c72b0")
        axis.set_xlabel(xlabel)
        axis.axvline(0, color="grey", linewidth=0.8)
        axis.set_title(title, fontsize="medium")
        if swarm is not None:
            _draw_swarm(axes[0, 1], *swarm, pyplot)
        figure.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(output) as temporary:
            figure.savefig(temporary, format=fmt, dpi=120)
    finally:
        pyplot.close(figure)
    return fmt


def _draw_swarm(axis: Any, names: list[str], values: Any, inputs: Any, pyplot: Any) -> None:
    import numpy as np

    order = np.argsort(np.abs(values).mean(axis=0))[-PLOT_FEATURES:]  # ascending: largest on top
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(values))  # fixed: the same picture each run
    categorical = False
    for position, j in enumerate(order):
        column = inputs[:, j]
        colour: Any = "grey"  # a categorical feature has no high or low value
        no_values = bool(np.all(np.isnan(column)))
        categorical |= no_values
        if not no_values:
            low, high = np.nanpercentile(column, [5, 95])
            colour = pyplot.cm.coolwarm(np.clip((column - low) / ((high - low) or 1.0), 0, 1))
        axis.scatter(values[:, j], position + jitter, s=4, c=colour, alpha=0.6, linewidths=0)
    axis.set_yticks(range(len(order)), [names[j] for j in order])
    axis.axvline(0, color="grey", linewidth=0.8)
    grey = "; grey: categorical" if categorical else ""
    axis.set_xlabel(f"attribution per row\n(red: high feature value, blue: low{grey})")
