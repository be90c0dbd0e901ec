"""What the data does that the encoding hides: missing cells, ID-like columns, unseen categories.

Training fills a missing numeric cell with the training mean and encodes a missing or unseen
category as no column at all; a string column with a distinct value per row (an ID) becomes
one input per row and teaches nothing. All of that is legitimate, and all of it should be
said: :class:`DataQuality` holds the counts a fit saw (``init``, ``train``), :class:`InputTally`
the counts prediction met, and each renders them as lines for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# A categorical column is ID-like when nearly every row has a value of its own: 0.9 leaves
# room for a few repeats (a duplicated record) without calling a real category an ID.
ID_SHARE = 0.9
ID_MIN_ROWS = 20  # below this, few distinct values are normal for any column
SHOWN = 5  # columns named per line; the rest are counted


@dataclass
class DataQuality:
    """Counts over the ``rows`` a schema was fitted on.

    ``missing``: column → missing cells (only columns with some); ``distinct``: categorical
    column → distinct values.
    """

    rows: int
    missing: dict[str, int] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)

    def id_like(self) -> list[str]:
        """The categorical columns with (nearly) a value per row."""
        if self.rows < ID_MIN_ROWS:
            return []
        return [
            name
            for name, count in self.distinct.items()
            if count >= ID_SHARE * max(1, self.rows - self.missing.get(name, 0))
        ]

    def notes(self, where: str, advice: str | None = None) -> list[tuple[str, str | None]]:
        """``(line, hint)`` per finding; ``where`` names the rows counted (``"in the 120 training
        rows"``), ``advice`` (the hint of the last ID-like column) how to leave those out."""
        ids = self.id_like()
        lines: list[tuple[str, str | None]] = [
            (
                f"Column '{name}' looks like an ID: {self.distinct[name]} distinct values {where}, one-hot "
                "encoded into as many inputs, which teach the model nothing.",
                advice if i == len(ids) - 1 else None,
            )
            for i, name in enumerate(ids)
        ]
        if self.missing:
            lines.append((f"Missing cells {where}: {_counts(self.missing, self.categorical_names())}.", None))
        return lines

    def categorical_names(self) -> set[str]:
        return set(self.distinct)


def _counts(counts: dict[str, int], categorical: set[str]) -> str:
    """``age 12 (filled with the training mean), city 3 (encoded as no category)``, the largest
    first, at most SHOWN named."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    how = {True: "encoded as no category", False: "filled with the training mean"}
    shown = [f"{name} {n} ({how[name in categorical]})" for name, n in ordered[:SHOWN]]
    rest = len(ordered) - SHOWN
    return ", ".join(shown) + (f" and {rest} more column(s)" if rest > 0 else "")


@dataclass
class InputTally:
    """What prediction met that training did not: per column, missing cells and unseen categories."""

    rows: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    categorical: set[str] = field(default_factory=set)

    def reset(self) -> None:
        """Forget the counts (a read that starts over)."""
        self.rows, self.missing, self.unseen = 0, {}, {}

    def add(self, kind: str, name: str, count: int) -> None:
        if count:
            table = self.missing if kind == "missing" else self.unseen
            table[name] = table.get(name, 0) + int(count)

    def add_missing(self, names: list[str], values: np.ndarray) -> None:
        """NaN counts per column of a numeric ``(n, len(names))`` array."""
        if values.size and np.isnan(values).any():
            for name, count in zip(names, np.isnan(values).sum(axis=0).tolist(), strict=True):
                self.add("missing", name, count)

    def notes(self) -> list[str]:
        """One line, or none: what was filled or ignored, with counts per column."""
        parts = []
        if self.missing:
            parts.append(f"missing cells: {_counts(self.missing, self.categorical)}")
        if self.unseen:
            named = ", ".join(f"{name} {n}" for name, n in sorted(self.unseen.items(), key=lambda i: (-i[1], i[0])))
            parts.append(f"categories unseen in training, encoded as none: {named}")
        if not parts:
            return []
        return [f"In {self.rows} rows, " + "; ".join(parts) + "."]
