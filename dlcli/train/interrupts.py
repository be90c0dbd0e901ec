"""Defer Ctrl-C to a batch boundary so an interrupted trainer is always resumable.

A batch updates the weights, optimizer moments and BatchNormalization statistics with many
separate in-place operations; a ``KeyboardInterrupt`` landing between two of them would
leave a state no checkpoint can describe. While deferral is active, SIGINT only sets a
flag; the trainer checks it after each batch and raises ``KeyboardInterrupt`` itself, when
the state is consistent.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class DeferredInterrupt:
    """Install/uninstall a flag-setting SIGINT handler around the trainer's own code.

    Deferral only happens in the main thread and only when SIGINT has Python's default
    handler: a caller that installed its own handler keeps it, and other threads never
    receive SIGINT anyway.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None
        self._active = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.pending = True

    def __enter__(self) -> DeferredInterrupt:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)
            self._active = False

    def raise_if_pending(self) -> None:
        """Raise the deferred ``KeyboardInterrupt`` (once)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
