"""Keeps an embedded stack running: ``gridimpact up`` calls :meth:`Supervisor.tick` twice a second.

A child that exits (the API, a worker, the bundled Redis) is started again after a back-off of
1, 2, 4, 8, 16, then 30 s between attempts (reset once it has run for a minute), and every exit
and restart is said on the console. Every 2 s it also sends the queued studies whose turn it is
(:mod:`impact_service.queue.dispatch`): those submitted while the broker was unreachable go out
within seconds of its return instead of waiting for the sweeper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from impact_service.embedded import Stack
from impact_service.queue.client import send_sweep
from impact_service.queue.dispatch import dispatch_queued
from impact_service.store import repository as repo
from impact_service.store.db import session_scope

__all__ = ["BACKOFF_S", "Supervisor"]

logger = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
_STABLE_S = 60.0  # a child that ran this long starts its back-off from the beginning again
_RESEND_EVERY_S = 2.0
_REDIS = "redis"


@dataclass
class _Child:
    started: float
    restarts: int = 0
    due: float | None = None  # when the next start is due (None: running or not yet noticed)


class Supervisor:
    """See the module doc. ``say`` reports exits and restarts (the console under ``up``)."""

    def __init__(self, stack: Stack, *, say: Callable[[str], None]) -> None:
        self.stack, self.say = stack, say
        self.children: dict[str, _Child] = {}
        self._next_resend = 0.0

    def tick(self) -> None:
        """Restart what has exited (when its back-off is over) and send unsent studies."""
        now = time.monotonic()
        redis = self.stack.redis
        if redis is not None:
            self._watch(_REDIS, redis.process is not None and redis.process.poll() is None, now)
        for name, process in list(self.stack.processes.items()):
            self._watch(name, process.poll() is None, now)
        if now >= self._next_resend:
            self._next_resend = now + _RESEND_EVERY_S
            self._resend()

    def _watch(self, name: str, alive: bool, now: float) -> None:
        child = self.children.setdefault(name, _Child(started=now))
        if alive:
            if child.restarts and now - child.started > _STABLE_S:
                child.restarts = 0
            return
        if child.due is None:
            delay = BACKOFF_S[min(child.restarts, len(BACKOFF_S) - 1)]
            child.due = now + delay
            self.say(f"{name} stopped ({self._exit(name)}); starting it again in {delay:.0f} s")
            return
        if now < child.due:
            return
        child.due, child.started, child.restarts = None, now, child.restarts + 1
        try:
            self._restart(name)
        except (OSError, RuntimeError) as exc:
            self.say(f"{name} did not start again ({exc}); next try after the back-off")
            child.due = None
            return
        self.say(f"{name} started again (restart {child.restarts})")
        if name.startswith("worker"):
            self._sweep_now()

    def _exit(self, name: str) -> str:
        process = self.stack.redis.process if name == _REDIS and self.stack.redis else self.stack.processes.get(name)
        code = process.returncode if process is not None else None
        return f"exit code {code}" if code is not None else "not running"

    def _restart(self, name: str) -> None:
        if name == _REDIS and self.stack.redis is not None:
            self.stack.redis.start()
            self._forget_sent()
            self._next_resend = 0.0  # studies queued during the outage go out at the next tick
        else:
            self.stack.respawn(name)

    def _sweep_now(self) -> None:
        """A worker died: the studies its pool processes held (they die with it) are requeued by a
        sweep now rather than at the schedule's next one (the sweeper notices dead local pids)."""
        try:
            send_sweep(self.stack.settings.broker())
        except Exception as exc:  # noqa: BLE001 - the scheduled sweep comes within sweep_every_s anyway
            logger.warning("sweep_request_failed error=%s", exc)

    def _forget_sent(self) -> None:
        """Redis writes its append-only file every second: the last messages before a crash may be
        gone. Every queued study is sent again (claims are atomic: a duplicate is a no-op)."""
        try:
            with session_scope(self.stack.settings.database()) as session:
                repo.forget_sent(session)
        except Exception as exc:  # noqa: BLE001 - the sweeper re-sends lost messages later anyway
            logger.warning("forget_sent_failed error=%s", exc)

    def _resend(self) -> None:
        try:
            sent = dispatch_queued(self.stack.settings)
        except Exception as exc:  # noqa: BLE001 - the broker or database is still down: try again at the next tick
            logger.debug("resend_failed error=%s", exc)
            return
        if sent:
            self.say(f"sent {sent} queued stud{'y' if sent == 1 else 'ies'} to the broker")
