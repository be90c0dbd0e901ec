"""Typed errors raised by the library and mapped to exit codes by the CLI.

Each error carries the message a user reads (what failed, the value, what was expected)
and an optional ``hint`` (how to fix it). The CLI prints ``Error: <message>`` and
``Hint: <hint>`` on stderr and exits with ``exit_code``.
"""

from __future__ import annotations


class DlcliError(Exception):
    """Base class of every error dlcli raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

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
