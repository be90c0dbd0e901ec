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
_NAMES = re.compile(r"\{names:([a-z ]+)\}")  # a registry's names, for options that are not config keys


def _registry_names(kind: str) -> tuple[str, ...]:
    if kind in ("sampler", "pruner"):  # dlcli tune's, which name Optuna's classes
        from dlcli.workflows.search import PRUNERS, SAMPLERS

        return tuple(SAMPLERS if kind == "sampler" else PRUNERS)
    from dlcli.config import registered

    return registered(kind)()


def expand(text: str) -> str:
    """``text`` with each ``{choices:KEY}`` replaced by the key's valid values."""
    if "{names:" in text:
        text = _NAMES.sub(lambda match: ", ".join(_registry_names(match.group(1))), text)
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
        if param.param_type_name == "argument" and param.metavar:
            # "MODEL <str>": the metavar already says what goes there; Typer's type adds nothing.
            param.display_type_rich = lambda ctx: None


# --- shell completion of option values ---------------------------------------------------


def _matching(values: Any, incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


def _choices_of(key: str) -> Any:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[str]:
        from dlcli.config import settings

        return _matching(settings()[key].valid_choices() or (), incomplete)

    return complete


def _complete_set(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """``--set``: every ``section.key=``, then the key's choices after the ``=``."""
    from dlcli.config import settings

    known = settings()
    key, sep, value = incomplete.partition("=")
    if sep and key in known:
        return [f"{key}={c}" for c in _matching(known[key].valid_choices() or (), value)]
    return _matching((f"{k}=" for k in known), incomplete)


def _complete_format(ctx: Any, param: Any, incomplete: str) -> list[str]:
    from dlcli.workflows import inference

    return _matching(inference.OUTPUT_FORMATS, incomplete)


COMPLETERS = {"set_": _complete_set, "format_": _complete_format}  # by parameter name


def add_completion(command: Any) -> None:
    """Complete the values of options that name registered things, ``--set`` keys and ``--format``."""
    for param in getattr(command, "params", ()):
        text = getattr(param, "help", None) or ""
        found, named = _CHOICES.search(text), _NAMES.search(text)
        completer = _choices_of(found.group(1)) if found else COMPLETERS.get(param.name)
        if named is not None:
            kind = named.group(1)
            completer = lambda ctx, param, incomplete, kind=kind: _matching(_registry_names(kind), incomplete)  # noqa: E731
        if completer is not None and param.param_type_name == "option":
            param._custom_shell_complete = completer


class DlcliCommand(TyperCommand):
    """A command whose option help may name registered choices (completed in the shell too),
    and whose values are converted without Pydantic (see :mod:`dlcli.cli.coercion`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_completion(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self, ctx)
        # --debug is a global option, but "dlcli eval … --debug" is where a user types it after
        # an error (the AWS CLI takes it anywhere): honour it there too, up to a "--".
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end] and ctx.parent is not None:
            args = [a for i, a in enumerate(args) if i >= end or a != "--debug"]
            ctx.parent.params["debug"] = True
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        # Typer writes a required argument as {MODEL}; Click, man pages and POSIX write MODEL.
        return [re.sub(r"^\{(.+)\}", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        expand_params(self)
        super().format_help(ctx, formatter)
