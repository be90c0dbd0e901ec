"""``dlcli init``: a project scaffold, optionally fitted to a dataset.

Writes a commented ``dlcli.toml`` and a ``.gitignore`` for run directories. With a dataset
and a target column, the config already holds the inferred task, loss and network size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dlcli.errors import UsageError

GITIGNORE = "# dlcli run directories and caches\nruns/\n.dlcli-cache/\n"


@dataclass
class DataSummary:
    """What ``init`` learned from the data, shown to the user and written as comments."""

    path: str
    target: str
    task: str
    n_rows: int
    n_inputs: int
    n_outputs: int
    loss: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    classes: list[object] = field(default_factory=list)


def summarize_data(path: str, target: str) -> DataSummary:
    from dlcli.data.sources import load_training_data

    dataset = load_training_data(path, target)
    schema = dataset.schema
    loss = {"binary": "binary_crossentropy", "multiclass": "categorical_crossentropy"}.get(schema.task, "mse")
    return DataSummary(
        path=path,
        target=schema.target,
        task=schema.task,
        n_rows=len(dataset.X),
        n_inputs=schema.n_inputs,
        n_outputs=schema.n_outputs,
        loss=loss,
        numeric=[f.name for f in schema.features if f.kind == "numeric"],
        categorical=[f.name for f in schema.features if f.kind == "categorical"],
        classes=list(schema.classes),
    )


def hidden_for(summary: DataSummary | None) -> list[int]:
    """A width that suits small tabular data: wider for wide inputs, never tiny."""
    if summary is None:
        return [64, 32]
    width = 128 if summary.n_inputs > 64 else 64
    return [width, width // 2]


def render_config(summary: DataSummary | None, data_path: str = "") -> str:
    s = summary
    lines = [
        "# dlcli configuration. Resolution order, last wins:",
        "#   built-in defaults < this file < DLCLI_<SECTION>_<KEY> environment < command-line flags.",
        "# 'dlcli train --print-config' shows the resolved values; 'man dlcli-train' lists every key.",
        "",
    ]
    lines += ["[data]"]
    if s:
        lines.append(
            f"# {s.n_rows} rows; {len(s.numeric)} numeric and {len(s.categorical)} categorical feature column(s)"
            f" → {s.n_inputs} model inputs."
        )
        if s.categorical:
            lines.append(f"# categorical (one-hot encoded): {', '.join(s.categorical)}")
        if s.classes:
            lines.append(f"# {len(s.classes)} classes: {', '.join(map(str, s.classes[:20]))}")
    lines += [
        f'path = "{_escape(data_path)}"',
        f'target = "{_escape(s.target if s else "")}"',
        f'task = "{s.task if s else "auto"}"          # auto, binary, multiclass or regression',
        "val_split = 0.2         # held out (shuffled, stratified for classes) for early stopping",
        "",
    ]
    lines += [
        "[model]",
        f"hidden = {hidden_for(s)}       # hidden layer widths",
        'activation = "relu"',
        "dropout = 0.3           # after each hidden layer; regularises small tables",
        "batch_norm = false",
        f'loss = "{s.loss if s else "auto"}"' + ("" if s else "           # auto: from the task"),
        "",
    ]
    lines += [
        "[train]",
        "epochs = 300            # an upper bound: early stopping usually ends sooner",
        "batch_size = 32",
        "lr = 0.001",
        'optimizer = "adamw"      # sgd, momentum, nesterov, adam, adamw, rmsprop',
        "weight_decay = 0.3       # decoupled (AdamW): w -= lr * weight_decay * w each step",
        'schedule = "constant"    # constant, step, exponential, cosine, reduce_on_plateau',
        "patience = 100          # epochs without val_loss improvement before stopping (0: off)",
        "restore_best = true",
        "refit = true            # retrain on all rows for the best epoch count",
        "checkpoint_every = 10",
        "seed = 0",
        "",
    ]
    lines += [
        "[output]",
        'out = ""                # run directory; empty: runs/<name>-N, never overwritten',
        "",
        "[remote]",
        'url = ""                # default for push/pull, e.g. "s3://bucket/project"',
        'push_to = ""            # upload checkpoints and runs here while training',
        'endpoint_url = ""       # S3-compatible endpoint, e.g. "http://127.0.0.1:9000"',
        "",
    ]
    return "\n".join(lines)


def scaffold(
    directory: Path, *, data: str | None = None, target: str | None = None, force: bool = False
) -> tuple[list[Path], DataSummary | None]:
    """Write ``dlcli.toml`` and ``.gitignore`` in ``directory``; returns what was written."""
    if (data is None) != (target is None):
        raise UsageError("--data and --target go together.", hint="Pass both, or neither for a blank config.")
    config_path = directory / "dlcli.toml"
    if config_path.exists() and not force:
        raise UsageError(f"'{config_path}' already exists.", hint="Use --force to overwrite it.")
    summary = summarize_data(data, target) if data and target else None
    directory.mkdir(parents=True, exist_ok=True)
    data_ref = os.path.relpath(data, directory) if data else ""
    _write_atomic(config_path, render_config(summary, data_ref))
    written = [config_path]
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        _write_atomic(gitignore, GITIGNORE)
        written.append(gitignore)
    return written, summary


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
