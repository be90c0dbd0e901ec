"""Option values converted without Pydantic, so a short command does not pay for importing it.

Typer converts every parameter value through a Pydantic ``TypeAdapter``, built the first time
the parameter is processed; importing Pydantic and building the adapters costs about 90 ms,
more than a one-row ``dlcli predict`` spends on its own work. dlcli's parameters are plain
``str``, ``bool``, ``int``, ``float``, ``Path`` and ``list[str]``, whose well-formed values
need no Pydantic, so :func:`install` gives each such parameter a converter that handles those
values itself and hands anything else — a malformed or out-of-range value, a type it does not
know — to Typer's own converter, which gives the result and the error message Typer would.

This uses Typer internals (``_TyperParameter._runtime_param``, ``typer._coercion``). If they
change, :func:`install` does nothing and Typer converts as before: only slower, never wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # another Typer: leave conversion to it
    RuntimeParam = None  # type: ignore[assignment,misc]

# Exactly the strings whose Pydantic result is plain int() / float(); Pydantic is laxer
# ("1_000", " 3 ", "inf"), and those take the fallback, which accepts them as before. The
# length bound keeps int() clear of Python's digit limit, whose error would not be Typer's.
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def install(command: Any, ctx: Any) -> None:
    """Give each of ``command``'s parameters that dlcli's converter knows that converter."""
    if RuntimeParam is None:
        return
    # get_params, not params: it adds the --help option, itself a Typer parameter.
    for param in command.get_params(ctx):
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", False) is None and _handles(descriptor):
            param._runtime_param = _Plain(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)


def _handles(descriptor: Any) -> bool:
    info, annotation = descriptor.parameter_info, descriptor.annotation
    if descriptor.file_annotation is not None or info.parser is not None:
        return False
    if annotation in (str, bool):
        return True
    if annotation in (int, float):
        return not info.clamp
    if annotation is Path:
        return info.path_type is None
    return bool(annotation == list[str])


if RuntimeParam is not None:

    class _Plain(RuntimeParam):
        """Well-formed plain values converted here; everything else by Typer's converter."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            converted = self._plain(value)
            if converted is _UNKNOWN:
                # Typer's own converter: the same result, and the same message for a bad value.
                return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)
            if self.annotation is Path:
                return coerce_cli_path(converted, self.parameter_info, path_type=Path, param=param, ctx=ctx)
            return converted

        def _plain(self, value: Any) -> Any:
            annotation = self.annotation
            if annotation is str or annotation is bool:
                return value if type(value) is annotation else _UNKNOWN
            if annotation is Path:
                return Path(value) if isinstance(value, (str, Path)) else _UNKNOWN
            if annotation is int or annotation is float:
                return self._number(value)
            if isinstance(value, (list, tuple)) and all(type(item) is str for item in value):
                return list(value)
            return _UNKNOWN

        def _number(self, value: Any) -> Any:
            kind = self.annotation
            # An int default, a float default for a float, or a string of plain digits.
            plain_number = type(value) is int or (type(value) is float and kind is float)
            plain_text = type(value) is str and (_INT if kind is int else _FLOAT).fullmatch(value) is not None
            if not (plain_number or plain_text):
                return _UNKNOWN
            number = kind(value)
            low, high = self.parameter_info.min, self.parameter_info.max
            if (low is not None and number < low) or (high is not None and number > high):
                return _UNKNOWN  # out of range: Typer's converter words the error
            return number


_UNKNOWN = object()
