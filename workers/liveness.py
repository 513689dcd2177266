"""Claims held by processes that are gone, noticed at once on the same machine.

A study or part records the ``node:pid`` of the pool process that holds it. On that node, a
missing pid means the holder is dead (killed, or its worker's main process died and took it
along): the sweeper then treats the claim as stale at once instead of waiting ``stale_after_s``
without a heartbeat. Claims of other nodes (another container, another machine) are left to the
heartbeat rule. A pid reused by another process only delays the takeover to that rule.

The node (``impact_service.node``) names the container inside Docker: containers on the host
network all carry the host's name, but each has its own process ids, so a pid missing here says
nothing about a pid in a sibling container.
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from impact_service.node import die_with, node_name
from impact_service.store.models import PartStatus, Study, StudyPart, StudyStatus

__all__ = ["die_with_parent", "expire_dead_local_claims", "remember_main_process"]

logger = logging.getLogger(__name__)
_LONG_AGO = datetime(2000, 1, 1)
_PR_SET_PDEATHSIG = 1


def _dead_local(worker: str | None, host: str) -> bool:
    name, _, pid = (worker or "").rpartition(":")
    if name != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def expire_dead_local_claims(session: Session) -> int:
    """Mark the running studies and parts whose holder on this host is gone as not beating since
    long ago (the sweep that follows requeues them). Returns how many."""
    host = node_name()
    like = f"{host}:%"
    studies = session.execute(select(Study.id, Study.worker).where(Study.status == StudyStatus.RUNNING, Study.worker.like(like)))
    parts = session.execute(
        select(StudyPart.id, StudyPart.worker).where(StudyPart.status == PartStatus.RUNNING, StudyPart.worker.like(like))
    )
    dead_studies = [row.id for row in studies if _dead_local(row.worker, host)]
    dead_parts = [row.id for row in parts if _dead_local(row.worker, host)]
    if dead_studies:
        session.execute(update(Study).where(Study.id.in_(dead_studies)).values(heartbeat_at=_LONG_AGO))
    if dead_parts:
        session.execute(update(StudyPart).where(StudyPart.id.in_(dead_parts)).values(heartbeat_at=_LONG_AGO))
    if dead_studies or dead_parts:
        logger.info("dead_local_claims studies=%d parts=%d", len(dead_studies), len(dead_parts))
    return len(dead_studies) + len(dead_parts)


_main_pid: int | None = None


def remember_main_process() -> None:
    """Record this process as the parent the pool processes must not outlive (the worker's main
    process, before it forks its pool)."""
    global _main_pid  # noqa: PLW0603 - one main process per worker
    _main_pid = os.getpid()


def die_with_parent() -> None:
    """Ask Linux to kill this (pool) process when its parent, the worker's main process, dies: an
    orphaned pool process kept its memory and its claim forever. Compared with the pid the main
    process recorded, not with 1: in a container the main process is pid 1."""
    if _main_pid is not None:
        die_with(_main_pid, sig=signal.SIGKILL)
