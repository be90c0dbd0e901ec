"""A TOML writer for flat tables of scalars and lists, the shape of a dlcli config.

Small enough to prove: a hypothesis test round-trips arbitrary tables through
:func:`tomllib.loads` (tests/config/test_tomlwriter.py). Strings are basic strings with every
character TOML forbids escaped; keys are quoted unless they are bare keys; floats keep their
exact ``repr`` (``inf``/``nan`` spelled as TOML spells them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(tables: Mapping[str, Mapping[str, Any]], comments: Mapping[str, str] | None = None, header: str = "") -> str:
    """TOML text for ``{table: {key: value}}``.

    ``comments`` maps ``"table.key"`` (or ``"table"``) to comment text written above it, one
    ``# `` line per line of text; ``header`` is a comment block at the top.
    """
    notes = comments or {}
    lines: list[str] = _comment(header) + ([""] if header else [])
    for table, values in tables.items():
        lines += _comment(notes.get(table))
        lines.append(f"[{key(table)}]")
        for name, value in values.items():
            lines += _comment(notes.get(f"{table}.{name}"))
            lines.append(f"{key(name)} = {value_text(value)}")
        lines.append("")
    return "\n".join(lines)


def key(name: str) -> str:
    """A bare key when TOML allows one, else a quoted key."""
    return name if _BARE_KEY.fullmatch(name) else string(name)


def value_text(value: Any) -> str:
    """TOML for a bool, int, float, str, or a list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} as TOML: {value!r}")


def string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _comment(text: str | None) -> list[str]:
    if not text:
        return []
    return [f"# {line}".rstrip() for line in text.splitlines()]
