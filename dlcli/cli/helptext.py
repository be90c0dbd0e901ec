"""Help texts that name registered things, filled in only when help is shown.

An option's help may say ``{choices:train.optimizer}``: the valid values of that config key,
which come from the registries in ``dlcli.nn``. Importing those registries costs NumPy, so
the names are filled in when a command's help (or its man page) is rendered, never when
``dlcli`` merely starts.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

from dlcli.cli import coercion

_CHOICES = re.compile(r"\{choices:([a-z_]+\.[a-z_]+)\}")


def expand(text: str) -> str:
    """``text`` with each ``{choices:KEY}`` replaced by the key's valid values."""
    if "{choices:" not in text:
        return text
    from dlcli.config import settings

    known = settings()
    return _CHOICES.sub(lambda match: ", ".join(known[match.group(1)].valid_choices() or ()), text)


def expand_params(command: Any) -> None:
    """Fill in the placeholders of every parameter's help, once."""
    for param in getattr(command, "params", ()):
        text = getattr(param, "help", None)
        if text:
            param.help = expand(text)


class DlcliCommand(TyperCommand):
    """A command whose option help may name registered choices, and whose values are
    converted without Pydantic (see :mod:`dlcli.cli.coercion`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self, ctx)
        # --debug is a global option, but "dlcli eval … --debug" is where a user types it after
        # an error (the AWS CLI takes it anywhere): honour it there too, up to a "--".
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end] and ctx.parent is not None:
            args = [a for i, a in enumerate(args) if i >= end or a != "--debug"]
            ctx.parent.params["debug"] = True
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        expand_params(self)
        super().format_help(ctx, formatter)
