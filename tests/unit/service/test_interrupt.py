"""Ctrl-C always stops a command, even when a library swallows the KeyboardInterrupt it raised."""

from __future__ import annotations

import contextlib
import signal

import pytest

from impact_service.cli.interrupt import InterruptGuard


def _swallowing_library() -> None:
    """What a bare ``except:`` does to a Ctrl-C that lands inside it."""
    with contextlib.suppress(BaseException):
        signal.raise_signal(signal.SIGINT)  # the handler runs before this returns


def test_a_swallowed_interrupt_stops_at_the_next_checkpoint() -> None:
    guard = InterruptGuard()
    with contextlib.suppress(KeyboardInterrupt), guard:  # the block's own exit raises too: tested below
        _swallowing_library()
        assert guard.interrupted
        with pytest.raises(KeyboardInterrupt):
            guard.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_swallowed_interrupt_stops_the_block_when_no_checkpoint_follows() -> None:
    guard = InterruptGuard()
    with pytest.raises(KeyboardInterrupt), guard:
        _swallowing_library()


def test_without_ctrl_c_nothing_happens() -> None:
    with InterruptGuard() as guard:
        guard.check()
    assert not guard.interrupted
