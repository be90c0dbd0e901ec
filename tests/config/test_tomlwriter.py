"""The TOML writer cannot produce invalid TOML: arbitrary tables round-trip through tomllib."""

from __future__ import annotations

import math
import tomllib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dlcli import tomlwriter

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
values = st.one_of(scalars, st.lists(st.integers(-(2**31), 2**31)), st.lists(st.text(), max_size=4))
tables = st.dictionaries(st.text(min_size=1), st.dictionaries(st.text(min_size=1), values, max_size=5), max_size=4)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(tables)
def test_any_table_round_trips(data: dict[str, dict[str, Any]]) -> None:
    text = tomlwriter.dumps(data, comments={f"{t}.{k}": "a\nmulti-line comment" for t in data for k in data[t]})
    assert same(tomllib.loads(text), data)


def test_strings_escape_what_toml_forbids() -> None:
    assert tomlwriter.string('a"b\\c\n\x00\x7f') == '"a\\"b\\\\c\\n\\u0000\\u007f"'
    assert tomlwriter.key("train") == "train" and tomlwriter.key("a b") == '"a b"'
