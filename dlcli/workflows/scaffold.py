"""``dlcli init``: a project scaffold, optionally fitted to a dataset.

Writes a commented ``dlcli.toml`` and a ``.gitignore`` for run directories. With a dataset
and a target column, the config already holds the inferred task, loss and network size.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from dlcli import files, tomlwriter
from dlcli.config import Config, Setting, settings
from dlcli.errors import UsageError, setting
from dlcli.nn.tasks import TASKS

GITIGNORE = "# dlcli run directories and caches\nruns/\n.dlcli-cache/\n"


@dataclass
class DataSummary:
    """What ``init`` learned from the data, shown to the user and written as comments."""

    path: str
    target: str
    task: str
    n_rows: int
    complete: bool
    n_inputs: int
    n_outputs: int
    loss: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    classes: list[object] = field(default_factory=list)


def summarize_data(path: str, target: str) -> DataSummary:
    from dlcli.data.survey import survey

    found = survey(path, target)
    schema = found.schema
    loss = TASKS[schema.task].loss
    return DataSummary(
        path=path,
        target=schema.target,
        task=schema.task,
        n_rows=found.n_rows,
        complete=found.complete,
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


COMMENT_WIDTH = 90
HEADER = """dlcli configuration. Resolution order, last wins:
  built-in defaults < this file < DLCLI_<SECTION>_<KEY> environment < command-line flags.
'dlcli train --print-config' shows the resolved values."""


def render_config(summary: DataSummary | None, data_path: str = "") -> str:
    """The commented ``dlcli.toml``: every key of the schema with its help, default or fitted value."""
    tables = Config().to_dict()
    if summary is not None:
        tables["data"].update(path=data_path, target=summary.target, task=summary.task)
        tables["model"].update(hidden=hidden_for(summary), loss=summary.loss)
    comments = {key: describe(spec) for key, spec in settings().items()}
    if summary is not None:
        comments["data"] = _fitted(summary)
    return tomlwriter.dumps(tables, comments, header=HEADER)


def describe(spec: Setting) -> str:
    """One comment for a key: its meaning, choices, bounds, and its flag."""
    text = spec.describe()
    if spec.flag:
        text += f"; flag {spec.flag}"
    return textwrap.fill(text[0].upper() + text[1:] + ".", width=COMMENT_WIDTH)


def _fitted(s: DataSummary) -> str:
    lines = [
        f"Fitted to {s.path}: {'' if s.complete else 'at least '}{s.n_rows} rows; "
        f"{len(s.numeric)} numeric and {len(s.categorical)} categorical "
        f"feature column(s) → {s.n_inputs} model inputs; {s.task} → {s.n_outputs} output(s), loss {s.loss}."
    ]
    if s.categorical:
        lines.append(f"categorical (one-hot encoded): {', '.join(s.categorical)}")
    if s.classes:
        lines.append(f"{len(s.classes)} classes: {', '.join(map(str, s.classes[:20]))}")
    return "\n".join(textwrap.fill(line, width=COMMENT_WIDTH) for line in lines)


def scaffold(
    directory: Path, *, data: str | None = None, target: str | None = None, force: bool = False
) -> tuple[list[Path], DataSummary | None]:
    """Write ``dlcli.toml`` and ``.gitignore`` in ``directory``; returns what was written."""
    if (data is None) != (target is None):
        raise UsageError(
            f"{setting('data')} and {setting('target')} go together.", hint="Pass both, or neither for a blank config."
        )
    config_path = directory / "dlcli.toml"
    if config_path.exists() and not force:
        raise UsageError(f"'{config_path}' already exists.", hint=f"Use {setting('force')} to overwrite it.")
    summary = summarize_data(data, target) if data and target else None
    directory.mkdir(parents=True, exist_ok=True)
    data_ref = os.path.relpath(data, directory) if data else ""
    files.write_text(config_path, render_config(summary, data_ref))
    written = [config_path]
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        files.write_text(gitignore, GITIGNORE)
        written.append(gitignore)
    return written, summary
