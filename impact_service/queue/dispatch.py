"""Which queued studies go to the broker, and when: fair between tenants, and nothing lost while
the broker is down.

The database is the system of record: a study is committed as queued first; its message is sent
by :func:`dispatch_queued`, which every party calls when something may have freed a place: the
API after a submission, a worker after it claims or ends a study, the sweeper on its schedule,
and ``gridimpact up``'s supervisor every 2 s (so studies queued while the broker was down go out
within seconds of its return). The broker is FIFO; to keep one tenant's backlog from standing in
front of another tenant's study, each tenant has at most ``tenant_waiting_messages`` (default 1)
messages waiting in the broker at a time: the rest wait in the database, oldest first, and a
tenant's next study is sent as soon as a worker takes its waiting one. Another tenant's new study
is then behind at most one message per busy tenant: it waits about one study's run time, not the
whole backlog. ``tenant_max_running`` (0: no limit) also caps a tenant's running studies.

A study is marked as being sent (its task id set atomically) before its message goes out, so two
dispatchers never send it twice; a send that fails clears the mark and stops the round (the broker
is down: the next call tries again). A duplicate message would be harmless anyway (claims are
atomic).
"""

from __future__ import annotations

import logging
import secrets

from impact_service.queue.client import send_run_study
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope

__all__ = ["dispatch_queued"]

logger = logging.getLogger(__name__)


def dispatch_queued(settings: Settings, *, tenant_id: str | None = None) -> int:
    """Send the queued studies whose turn it is (of one tenant, or of all); returns how many were
    sent. Raises the broker's error when a send fails (after clearing that study's mark)."""
    with session_scope(settings.database()) as session:
        chosen = repo.next_to_send(
            session,
            tenant_id=tenant_id,
            waiting_per_tenant=settings.tenant_waiting_messages,
            running_per_tenant=settings.tenant_max_running,
        )
        pending = [(study.id, repo.grid_bus_count(session, key=study.grid_key)) for study in chosen]
    sent = 0
    for study_id, buses in pending:
        mark = f"sending-{secrets.token_hex(8)}"
        with session_scope(settings.database()) as session:
            if not repo.mark_sending(session, study_id=study_id, mark=mark):
                continue  # another dispatcher has it
        try:
            task_id = send_run_study(settings.broker(), study_id, buses=buses)
        except Exception:
            with session_scope(settings.database()) as session:
                repo.clear_sending(session, study_id=study_id, mark=mark)
            raise
        with session_scope(settings.database()) as session:
            repo.record_sent(session, study_id=study_id, task_id=task_id)
        sent += 1
    if sent:
        logger.info("studies_dispatched count=%d tenant=%s", sent, tenant_id or "all")
    return sent
