"""The one error boundary: typed errors become ``Error: …`` / ``Hint: …`` and an exit code.

Tracebacks are shown only with ``--debug`` or ``DLCLI_DEBUG=1``. Exit codes: 0 success,
1 runtime failure, 2 invalid usage or input, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from dlcli.cli import coercion
from dlcli.errors import DlcliError, Interrupted, Namer

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def debug_enabled(ctx: Any = None) -> bool:
    if os.environ.get("DLCLI_DEBUG", "").lower() in ("1", "true", "yes", "on"):
        return True
    while ctx is not None:
        if ctx.params.get("debug"):
            return True
        ctx = ctx.parent
    return False


def report_error(message: str, hint: str | None = None, prefix: str = "Error: ") -> None:
    """Print one ``Error:`` line (and an optional ``Hint:`` line) on stderr."""
    sys.stderr.write(f"{prefix}{message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    sys.stderr.flush()


class DlcliGroup(TyperGroup):
    """The Typer group with dlcli's error boundary around every command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # The global options (--debug, --version) too: one Pydantic-built value would import it.
        coercion.install(self, ctx)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        _running[:] = [self, ctx]  # for warn(): how the command that runs spells settings
        try:
            return super().invoke(ctx)
        except DlcliError as exc:
            if debug_enabled(ctx):
                raise
            message, hint = exc.rendered(flag_namer(self, ctx))
            # Ctrl-C is the user's choice, not a failure: no "Error:" in front of it.
            prefix = "" if isinstance(exc, Interrupted) else "Error: "
            end_rank(exc.exit_code, exc.agreed, lambda p: report_error(message, hint, prefix=prefix + p))
        except KeyboardInterrupt:
            if debug_enabled(ctx):
                raise
            end_rank(EXIT_INTERRUPTED, False, lambda p: report_error("Interrupted.", prefix=p))
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`dlcli predict … | head`): stop quietly, like other Unix tools.
            _silence_stdout()
            raise typer.Exit(EXIT_OK) from None
        except OSError as exc:
            if debug_enabled(ctx):
                raise
            what, hint = _describe_os_error(exc), "Check the path and its permissions."
            # A directory given where a file goes (or the reverse) is the caller's mistake.
            code = EXIT_USAGE if isinstance(exc, IsADirectoryError | NotADirectoryError) else EXIT_FAILURE
            if isinstance(exc, IsADirectoryError):
                hint = "Give a file path, not a directory."
            end_rank(code, False, lambda p: report_error(what, hint, "Error: " + p))
        except Exception as exc:  # a bug: say so briefly, and how to see more
            if debug_enabled(ctx) or _is_click_signal(exc):
                raise
            what = f"Unexpected internal error: {type(exc).__name__}: {exc}"
            hint = "Run again with --debug for the traceback, and report it as a bug."
            end_rank(EXIT_FAILURE, False, lambda p: report_error(what, hint, "Error: " + p))


def end_rank(code: int, agreed: bool, report: Any) -> NoReturn:
    """Report an error and exit; as one rank of a data-parallel job, so that the job ends.

    ``report(prefix)`` prints the error. Alone, or as rank 0 of an error every rank agreed
    on, the error is printed once and this process exits with ``code``; the other ranks of
    an agreed error exit silently with the same code. An error only this rank met (the
    others may be waiting in a collective) is printed with the rank and ends the whole job.
    """
    world = _started_world()
    if world is None or world.size == 1:
        report("")
        raise typer.Exit(code)
    if world.rank == 0 or not agreed:
        report("" if world.rank == 0 else f"rank {world.rank}: ")
    if agreed:
        raise typer.Exit(code)
    sys.stderr.flush()
    world.abort(code)
    raise typer.Exit(code)  # not reached: abort ends the process


def _started_world() -> Any:
    # Only a command that started a world has one; importing the module here would pull
    # numpy into every error, --help's included.
    module = sys.modules.get("dlcli.parallel.world")
    return None if module is None else module.started()


def flag_namer(group: Any, ctx: Any) -> Namer:
    """How the command that ran spells a setting a library message names.

    A config key becomes its flag when this command has it (``data.path`` → ``--data``),
    else ``--set data.delimiter=…`` when the command takes ``--set``, else the key in
    dlcli.toml. A keyword argument (``force``, ``init_from``) becomes ``--force``, ``--init-from``.
    """
    from dlcli.config import flag_for

    command = group.commands.get(ctx.invoked_subcommand or "") if hasattr(group, "commands") else None
    opts = {opt for param in getattr(command, "params", ()) for opt in getattr(param, "opts", ())}

    def name(key: str, value: str | None) -> str:
        section, dot, field = key.partition(".")
        flag = flag_for(key) if dot else "--" + key.replace("_", "-")
        if flag and (flag in opts or not dot):
            return flag if value is None else f"{flag} {value}"
        if "--set" in opts:
            return f"--set {key}={'…' if value is None else value}"
        return f"[{section}] {field}" + ("" if value is None else f" = {value}") + " in dlcli.toml"

    return name


def warn(text: str, hint: str | None = None) -> None:
    """A ``Warning:`` line (and a ``Hint:``) on stderr for a library note, its settings named
    as the command that runs spells them."""
    from dlcli.errors import as_key, render

    namer = flag_namer(*_running) if _running else as_key
    report_error(render(text, namer), None if hint is None else render(hint, namer), prefix="Warning: ")


_running: list[Any] = []  # the group and its context while a command runs


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _is_click_signal(exc: Exception) -> bool:
    # Click's own exceptions (usage errors, Exit, Abort) must reach Click unchanged.
    module = type(exc).__module__
    return module.startswith("typer") or module.startswith("click")


def _describe_os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.filename:
        return f"{what}: '{exc.filename}'."
    return f"{what}."
