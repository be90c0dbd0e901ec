"""``dlcli init``: a project scaffold, optionally fitted to a dataset.

Writes a commented ``dlcli.toml`` and a ``.gitignore`` for run directories. With a dataset
and a target column, the config already holds the inferred task, loss and network size.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcli import files, tomlwriter
from dlcli.config import Config, Setting, check, settings
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
    id_like: list[str] = field(default_factory=list)  # a distinct value per row: ignore = [...] is suggested
    delimiter: str = ","  # CSV: the delimiter given or sniffed, written into the config
    # ``(line, hint)`` about the data for the user: ID-like columns, missing cells.
    notes: list[tuple[str, str | None]] = field(default_factory=list)


def summarize_data(path: str, target: str, delimiter: str = ",", *, remote_options: Any = None) -> DataSummary:
    """What ``init`` learns from ``path`` (a file, or an ``s3://`` URL read through the cache)."""
    from dlcli.data.survey import survey

    from .inference import localize

    found = survey(localize(path, remote_options=remote_options), target, delimiter=delimiter)
    schema = found.schema
    loss = TASKS[schema.task].loss
    quality = found.quality
    id_like = quality.id_like() if quality else []
    notes = []
    if quality is not None:
        read = quality.rows
        where = f"in the {read} rows" if read >= found.n_rows else f"in the first {read} rows"
        notes = quality.notes(
            where,
            f"Leave {'it' if len(id_like) == 1 else 'them'} out: add {suggestion(id_like)} under [data] in dlcli.toml.",
        )
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
        id_like=id_like,
        notes=notes,
        delimiter=found.delimiter,
    )


def suggestion(columns: list[str]) -> str:
    """The ``[data]`` line that leaves ``columns`` out, as it would stand in dlcli.toml."""
    return tomlwriter.dumps({"data": {"ignore": columns}}).strip().splitlines()[-1]


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


def render_config(summary: DataSummary | None, data_path: str = "", target: str | None = None) -> str:
    """The commented ``dlcli.toml``: every key of the schema with its help, default or fitted value."""
    tables = Config().to_dict()
    if summary is not None:
        tables["data"].update(
            path=data_path,
            target=summary.target if target is None else target,  # "": arrays have their y
            task=summary.task,
            delimiter=summary.delimiter,
        )
        tables["model"].update(hidden=hidden_for(summary), loss=summary.loss)
    comments = {key: describe(spec) for key, spec in settings().items()}
    if summary is not None:
        comments["data"] = _fitted(summary)
    return tomlwriter.dumps(tables, comments, header=HEADER) + "\n" + TUNE_SECTION


# The default search space of `dlcli tune`: each range holds the default above, which is
# the study's first trial, so tuning never ends worse on the validation rows than not tuning.
TUNE_SECTION = """\
# The search space of 'dlcli tune' (dlcli train ignores it): any key above, as
# "uniform(a, b)", "loguniform(a, b)", "int(a, b)", "logint(a, b)" or a list of choices.
# The first trial is the configuration above; 'dlcli tune --trials 40' searches the rest.
# A hidden width of "" is a linear (or logistic) model: the search may find it is enough.
[tune]
train.lr = "loguniform(1e-4, 3e-2)"
model.hidden = ["", "32", "64,32", "128,64", "256,128,64"]
model.dropout = "uniform(0, 0.5)"
train.weight_decay = "loguniform(1e-4, 1)"
train.batch_size = [32, 64, 128]
"""


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
    if s.delimiter != ",":
        lines.append(f"delimiter: {s.delimiter!r}")
    if s.categorical:
        lines.append(f"categorical (one-hot encoded): {', '.join(s.categorical)}")
    if s.id_like:
        lines.append(f"ID-like (a distinct value per row): {', '.join(s.id_like)}; suggested: {suggestion(s.id_like)}")
    if s.classes:
        lines.append(f"{len(s.classes)} classes: {', '.join(map(str, s.classes[:20]))}")
    return "\n".join(textwrap.fill(line, width=COMMENT_WIDTH) for line in lines)


def scaffold(
    directory: Path,
    *,
    data: str | None = None,
    target: str | None = None,
    delimiter: str | None = None,
    force: bool = False,
    remote_options: Any = None,
) -> tuple[list[Path], DataSummary | None]:
    """Write ``dlcli.toml`` and ``.gitignore`` in ``directory``; returns what was written.

    ``data`` is a local file or an ``s3://`` URL; ``target`` names its target column (a table
    needs one; an NPZ or HDF5 file has its ``y`` and takes none). ``delimiter``: the CSV
    delimiter (``data.delimiter``; default ``,``, or the one the header line shows)."""
    from dlcli.data.formats import is_table

    if delimiter is not None:
        check("data.delimiter", delimiter)
    if target is not None and data is None:
        raise UsageError(f"{setting('target')} goes with {setting('data')}.", hint="Pass the data file too.")
    if data is not None and is_table(data) and target is None:
        raise UsageError(
            f"{data} is a table, so {setting('target')} must name the column to predict.",
            hint=f"For example: {setting('target', 'COLUMN')}; an NPZ or HDF5 file with X and y needs none.",
        )
    if data is not None and not is_table(data) and target is not None:
        raise UsageError(
            f"{setting('target')} names a table column, but {data} is an array file: its target is its y array.",
            hint=f"Leave out {setting('target')}.",
        )
    config_path = directory / "dlcli.toml"
    if config_path.exists() and not force:
        raise UsageError(f"'{config_path}' already exists.", hint=f"Use {setting('force')} to overwrite it.")
    summary = summarize_data(data, target or "", delimiter or ",", remote_options=remote_options) if data else None
    directory.mkdir(parents=True, exist_ok=True)
    # A local path is written relative to the config (which is where it is read from).
    data_ref = "" if not data else data if "://" in data else os.path.relpath(data, directory)
    files.write_text(config_path, render_config(summary, data_ref, target or ""))
    written = [config_path]
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        files.write_text(gitignore, GITIGNORE)
        written.append(gitignore)
    return written, summary
