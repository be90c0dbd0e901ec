"""Build only the command being run.

Typer turns every registered command into a Click command — reading each function's
signature and evaluating its annotations — before it looks at the arguments: 12–20 ms for
dlcli's commands, of which a single command needs a fifth. When the arguments name a
command, :func:`for_args` returns a copy of the app that holds just that one; anything else
(``--help``, no command, a mistyped one, shell completion) gets the whole app, so listings,
suggestions and completions are unchanged.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import typer

# The group's own options are all flags (they take no value), so the first argument that is
# not an option is the command's name.
_GLOBAL_FLAGS = frozenset({"--debug", "--version", "--install-completion", "--show-completion", "-h", "--help"})


def for_args(app: typer.Typer, args: Sequence[str], prog_name: str) -> typer.Typer:
    """``app``, or a copy holding only the command that ``args`` run."""
    if f"_{prog_name.upper().replace('-', '_')}_COMPLETE" in os.environ:
        return app
    name = _command_name(args)
    matches = [info for info in app.registered_commands if name is not None and info.name == name]
    if len(matches) != 1 or app.registered_groups:
        return app
    single = copy.copy(app)
    single.registered_commands = matches
    return single


def _command_name(args: Sequence[str]) -> str | None:
    for arg in args:
        if arg in ("-h", "--help", "--version"):
            return None  # the group answers these itself, before any command
        if arg not in _GLOBAL_FLAGS:
            return None if arg.startswith("-") else arg
    return None
