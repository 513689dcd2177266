"""Ctrl-C always stops a command: :class:`InterruptGuard` records SIGINT, raises
``KeyboardInterrupt`` at once, and again at the next checkpoint and when the guarded block ends,
so an interrupt that some library swallows (pandapower has bare ``except:`` clauses) can never
let the command finish as if nothing happened. ``main`` turns it into exit status 130."""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any

__all__ = ["InterruptGuard"]


class InterruptGuard:
    """``with InterruptGuard() as guard: ... guard.check() ...`` in the main thread."""

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: Any = None

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.interrupted = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (even if the first one was swallowed)."""
        if self.interrupted:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, _error: BaseException | None, _trace: TracebackType | None) -> None:
        signal.signal(signal.SIGINT, self._previous)
        if kind is None:
            self.check()
