"""Typed errors raised by the library and mapped to exit codes by the CLI.

Each error carries the message a user reads (what failed, the value, what was expected)
and an optional ``hint`` (how to fix it). The CLI prints ``Error: <message>`` and
``Hint: <hint>`` on stderr and exits with ``exit_code``.

A message never spells a command-line flag: the library does not know whether it was called
from the shell or from Python. It names a setting with :func:`setting` (a config key such as
``data.path``, or a keyword argument such as ``force``, optionally with an example value);
:attr:`DlcliError.message` shows ``data.path`` (``data.path=FILE``), and the CLI boundary
renders the same mention as the flag of the command that ran (``--data FILE``), or
``--set data.path=FILE`` where the command has no such flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Control characters cannot come from a file name or a value typed by a user, so a mention
# is never confused with user text.
_OPEN, _VALUE, _CLOSE = "\x1e", "\x1d", "\x1f"
_MENTION = re.compile(f"{_OPEN}([^{_OPEN}{_CLOSE}{_VALUE}]+)(?:{_VALUE}([^{_OPEN}{_CLOSE}]*))?{_CLOSE}")

Namer = Callable[[str, "str | None"], str]


def setting(name: str, value: str | None = None) -> str:
    """A mention of a setting inside a message: ``setting("data.path", "FILE")``, ``setting("force")``."""
    return f"{_OPEN}{name}{_CLOSE}" if value is None else f"{_OPEN}{name}{_VALUE}{value}{_CLOSE}"


def as_key(name: str, value: str | None) -> str:
    """How the library names a setting: ``data.path`` or ``data.path=FILE``."""
    return name if value is None else f"{name}={value}"


def render(text: str, name: Namer = as_key) -> str:
    """``text`` with each :func:`setting` mention replaced by ``name(setting, value)``."""
    return _MENTION.sub(lambda match: name(match.group(1), match.group(2)), text)


class DlcliError(Exception):
    """Base class of every error dlcli raises on purpose."""

    exit_code = 1
    # True when every rank of a data-parallel job raised this same error at the same point:
    # rank 0 reports it and all exit; otherwise the rank that raised it reports and ends the job.
    agreed = False

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.raw_message = message
        self.raw_hint = hint

    @property
    def message(self) -> str:
        """What failed, with settings named by their config key."""
        return render(self.raw_message)

    @property
    def hint(self) -> str | None:
        """How to fix it (or ``None``), with settings named by their config key."""
        return None if self.raw_hint is None else render(self.raw_hint)

    @hint.setter
    def hint(self, value: str | None) -> None:
        self.raw_hint = value

    def rendered(self, name: Namer) -> tuple[str, str | None]:
        """``(message, hint)`` with settings named by ``name`` (the CLI passes flag names)."""
        return render(self.raw_message, name), None if self.raw_hint is None else render(self.raw_hint, name)

    def __str__(self) -> str:
        return self.message


class UsageError(DlcliError):
    """Invalid usage or input: bad flags, config, data or model file (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration key or value is invalid."""


class DataError(UsageError):
    """Input data cannot be read or does not match what is expected."""


class ModelFileError(UsageError):
    """A model or checkpoint file is foreign, truncated, corrupted or incompatible."""


class TrainingError(DlcliError):
    """Training failed at run time, e.g. the loss became NaN or infinite (exit 1)."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the last good weights are kept."""

    def __init__(self, message: str, hint: str | None = None, *, epoch: int = 0, step: int = 0) -> None:
        super().__init__(message, hint)
        self.epoch = epoch
        self.step = step


class RemoteError(DlcliError):
    """A remote operation failed (network, permissions, missing bucket) (exit 1)."""


class RemoteUsageError(UsageError):
    """A remote URL or remote option is invalid (exit 2)."""


class Interrupted(DlcliError):
    """The user pressed Ctrl-C; state was saved where possible (exit 130)."""

    exit_code = 130


class RankError(DlcliError):
    """An error one rank of a data-parallel job met, agreed by every rank so all end together.

    Carries the original's exit code; the message names the rank (rank 0's own errors are
    reported as they are), so the one line rank 0 prints says where it happened.
    """

    def __init__(self, rank: int, message: str, hint: str | None, exit_code: int) -> None:
        super().__init__(message if rank == 0 else f"rank {rank}: {message}", hint)
        self.rank = rank
        self.exit_code = exit_code
        self.agreed = True


def describe_failure(exc: BaseException) -> tuple[str, str | None, int]:
    """``(raw message, raw hint, exit code)`` of an error to hand to another rank."""
    if isinstance(exc, DlcliError):
        return exc.raw_message, exc.raw_hint, exc.exit_code
    if isinstance(exc, OSError):
        where = f": '{exc.filename}'" if exc.filename else ""
        return f"{exc.strerror or exc}{where}.", "Check the path and its permissions.", 1
    return f"{type(exc).__name__}: {exc}", "Run again with --debug for the traceback, and report it as a bug.", 1
