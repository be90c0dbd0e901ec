"""The line-counting CSV reader: slow, exact, and used only to explain a failure.

Tables are read with pyarrow (:mod:`dlcli.data.tables`); when pyarrow rejects a CSV file,
this reader walks it with Python's csv module to name the file and line that is wrong.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from dlcli.errors import DataError

MISSING = ("", "na", "nan", "null", "none", "?")


@dataclass
class Table:
    """Columns of a CSV file. ``columns[name]`` is a 1-D array of strings, one per row."""

    source: str
    header: list[str]
    columns: dict[str, np.ndarray]
    first_line: int = 2  # the file line of the first row, for messages

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def open_text(path: str | Path) -> IO[str]:
    """Open ``path`` (or ``-`` for stdin) as text, with a clear error when it cannot be read."""
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError(f"Data file '{path}' not found.", hint="Check the path, or pass --data FILE.") from None
    except IsADirectoryError:
        raise DataError(f"'{path}' is a directory, not a data file.") from None


# What a header line without a comma is split on instead, when exactly one of these is in it.
SNIFFED_DELIMITERS = (";", "\t", "|")
SNIFF_BYTES = 1 << 16


def sniff_delimiter(path: str | Path) -> str | None:
    """The delimiter of a CSV file whose header line has no comma but exactly one of
    :data:`SNIFFED_DELIMITERS` (a European ``a;b;c`` export, a TSV named ``.csv``); ``None``
    when the header has a comma, none or several candidates, or the file is not plain text."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return None  # the reader reports it
    if head.startswith(b"\x1f\x8b"):  # compressed: pyarrow decompresses, we do not sniff
        return None
    line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if "," in line:
        return None
    found = [d for d in SNIFFED_DELIMITERS if d in line]
    return found[0] if len(found) == 1 else None


def iter_csv(handle: IO[str], source: str, delimiter: str = ",", chunk_rows: int = 8192) -> Iterator[Table]:
    """Yield the rows of a CSV stream as :class:`Table` chunks of at most ``chunk_rows`` rows."""
    reader = csv.reader(handle, delimiter=delimiter)
    header = _read_header(reader, source)
    rows: list[list[str]] = []
    first_line = 2
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines carry nothing
            if len(row) != len(header):
                raise DataError(
                    f"{source}, line {reader.line_num}: expected {len(header)} fields as in the header, "
                    f"found {len(row)}.",
                    hint="Check for a missing or extra delimiter on that line; quote fields that contain it.",
                )
            rows.append(row)
            if len(rows) >= chunk_rows:
                yield _to_table(source, header, rows, first_line)
                first_line = reader.line_num + 1
                rows = []
    except csv.Error as exc:
        raise DataError(f"{source}, line {reader.line_num}: malformed CSV ({exc}).") from None
    except UnicodeDecodeError:
        raise DataError(f"'{source}' is not UTF-8 text.", hint="Is it a CSV file? Save it as UTF-8.") from None
    if rows:
        yield _to_table(source, header, rows, first_line)


def _read_header(reader: Iterator[list[str]], source: str) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"'{source}' is empty: expected a header line and rows.") from None
    except UnicodeDecodeError:
        raise DataError(f"'{source}' is not UTF-8 text.", hint="Is it a CSV file? Save it as UTF-8.") from None
    except csv.Error as exc:
        raise DataError(f"{source}, line 1: malformed CSV header ({exc}).") from None
    return validate_header(header, source)


def validate_header(header: list[str], source: str) -> list[str]:
    """Column names, stripped; empty or repeated names are an error."""
    header = [str(name).strip() for name in header]
    if any(not name for name in header):
        raise DataError(f"{source}, line 1: the header has an empty column name.", hint="Name every column.")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"{source}, line 1: duplicate column name(s) {', '.join(duplicates)}.")
    return header


def _to_table(source: str, header: list[str], rows: list[list[str]], first_line: int) -> Table:
    columns = np.array(rows, dtype=str).T
    return Table(source, header, {name: np.char.strip(columns[i]) for i, name in enumerate(header)}, first_line)


def parse_numeric(values: np.ndarray) -> np.ndarray | None:
    """Strings → float64 with NaN for missing cells, or ``None`` if any cell is not a number."""
    lowered = np.char.lower(values)
    missing = np.isin(lowered, MISSING)
    try:
        parsed = np.where(missing, "nan", values).astype(np.float64)
    except ValueError:
        return None
    if np.isinf(parsed).any():
        return None
    return parsed


def first_non_numeric(values: np.ndarray) -> int:
    """Index of the first cell that is neither a number nor missing."""
    for i, value in enumerate(values):
        if value.lower() in MISSING:
            continue
        try:
            if not np.isfinite(float(value)):
                return i
        except ValueError:
            return i
    return -1


def diagnose_csv(path: str | Path, delimiter: str) -> None:
    """Re-read a CSV file with the line-counting reader; raises its :class:`DataError` if any."""
    with open_text(path) as handle:
        for _ in iter_csv(handle, str(path), delimiter, chunk_rows=65536):
            pass


def csv_line_of_row(path: str | Path, delimiter: str, row: int) -> int:
    """The file line of data row ``row`` (0-based), counting blank lines and quoted newlines."""
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        seen = -1
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                seen += 1
                if seen == row:
                    return reader.line_num
    return row + 2
