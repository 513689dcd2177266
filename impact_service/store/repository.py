"""Queries and state transitions of the store. Queries take a session, transitions of a row the
caller holds take the row; nothing here commits: the caller commits its unit of work (workers and
the CLI through ``session_scope``, the API's service functions explicitly).

Ownership: a worker claims a study atomically and receives a ``claim_token``; progress, heartbeat,
result and failure writes only apply while the token still matches, so a worker that lost its
claim (its message was redelivered after a broker disconnect, or the sweeper requeued it) cannot
overwrite the study, and exactly one result is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from impact_service.store.models import (
    TERMINAL,
    ApiKey,
    ClaimState,
    GridIndex,
    GridUpload,
    PartStatus,
    ProfileUpload,
    Study,
    StudyPart,
    StudyResultRow,
    StudyStatus,
    Tenant,
    utcnow,
)

__all__ = [
    "canceled_fanouts",
    "claim_study",
    "clear_sending",
    "count_by_status",
    "create_api_key",
    "create_study",
    "ensure_tenant",
    "fail_study",
    "find_existing_study",
    "finish_study",
    "forget_sent",
    "get_grid_index",
    "get_profile",
    "get_result",
    "get_study",
    "get_upload",
    "grid_bus_count",
    "hash_key",
    "heartbeat",
    "list_api_keys",
    "list_profiles",
    "list_studies",
    "list_uploads",
    "mark_sending",
    "new_id",
    "next_to_send",
    "queued_before",
    "queued_count",
    "record_sent",
    "request_cancel",
    "requeue",
    "revoke_api_key",
    "save_grid_index",
    "save_profile",
    "save_upload",
    "stale_running",
    "tenant_for_key",
]

KEY_PREFIX = "gi_"


def new_id(prefix: str) -> str:
    """A random, URL-safe id with a readable prefix (``st_``, ``gr_``, ``tn_``, ``key_``)."""
    return f"{prefix}_{secrets.token_hex(10)}"


def hash_key(key: str) -> str:
    """SHA-256 of an API key (the only form stored)."""
    return hashlib.sha256(key.encode()).hexdigest()


def ensure_tenant(session: Session, *, name: str) -> Tenant:
    """The tenant with this name, created if missing."""
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(id=new_id("tn"), name=name)
        session.add(tenant)
        session.flush()
    return tenant


def create_api_key(session: Session, *, tenant_id: str, label: str = "", key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for a tenant; returns the row and the plaintext key (shown once, never stored)."""
    plaintext = key or KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id("key"), tenant_id=tenant_id, prefix=plaintext[:10], key_hash=hash_key(plaintext), label=label)
    session.add(row)
    session.flush()
    return row, plaintext


def list_api_keys(session: Session, *, tenant_name: str | None = None) -> list[tuple[ApiKey, str]]:
    """Every key (of one tenant when named) with its tenant's name, oldest first."""
    query = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_name is not None:
        query = query.where(Tenant.name == tenant_name)
    return [(row, str(name)) for row, name in session.execute(query.order_by(ApiKey.created_at, ApiKey.id)).all()]


def revoke_api_key(session: Session, *, key_id_or_prefix: str) -> list[ApiKey]:
    """Revoke the active key with this id or prefix; returns the matches (revoked only when exactly one)."""
    matches = list(
        session.scalars(
            select(ApiKey).where(
                or_(ApiKey.id == key_id_or_prefix, ApiKey.prefix == key_id_or_prefix), ApiKey.revoked_at.is_(None)
            )
        ).all()
    )
    if len(matches) == 1:
        matches[0].revoked_at = utcnow()
    return matches


def tenant_for_key(session: Session, *, key: str) -> Tenant | None:
    """The tenant of an active API key, or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))
    return None if row is None else session.get(Tenant, row.tenant_id)


def find_existing_study(
    session: Session, *, tenant_id: str, idempotency_key: str | None, input_hash: str, grid_key: str
) -> Study | None:
    """A study this request duplicates: same idempotency key, or the same spec not failed or canceled."""
    if idempotency_key:
        found = session.scalar(select(Study).where(Study.tenant_id == tenant_id, Study.idempotency_key == idempotency_key))
        if found is not None:
            return found
    active = [s.value for s in StudyStatus if s not in (StudyStatus.FAILED, StudyStatus.CANCELED)]
    return session.scalar(
        select(Study)
        .where(Study.tenant_id == tenant_id, Study.input_hash == input_hash, Study.grid_key == grid_key, Study.status.in_(active))
        .order_by(Study.created_at.desc())
        .limit(1)
    )


def create_study(
    session: Session,
    *,
    tenant_id: str,
    spec: dict[str, object],
    input_hash: str,
    grid_key: str,
    name: str,
    idempotency_key: str | None,
) -> Study:
    """A new queued study."""
    study = Study(
        id=new_id("st"),
        tenant_id=tenant_id,
        spec=spec,
        input_hash=input_hash,
        grid_key=grid_key,
        name=name,
        idempotency_key=idempotency_key,
    )
    session.add(study)
    session.flush()
    return study


def get_study(session: Session, *, study_id: str, tenant_id: str | None = None) -> Study | None:
    """A study; with ``tenant_id``, only when it belongs to that tenant."""
    study = session.get(Study, study_id)
    if study is None or (tenant_id is not None and study.tenant_id != tenant_id):
        return None
    return study


def list_studies(
    session: Session, *, tenant_id: str, status: StudyStatus | None, limit: int, offset: int
) -> tuple[Sequence[Study], int]:
    """A page of a tenant's studies, newest first, and the total count."""
    where = [Study.tenant_id == tenant_id]
    if status is not None:
        where.append(Study.status == status)
    total = session.scalar(select(func.count()).select_from(Study).where(*where)) or 0
    rows = session.scalars(
        select(Study).where(*where).order_by(Study.created_at.desc(), Study.id).limit(limit).offset(offset)
    ).all()
    return rows, total


def claim_study(
    session: Session, *, study_id: str, worker: str, task_id: str, redelivered: bool, stale_after: timedelta
) -> str | None:
    """Take a queued study (or one whose worker stopped beating, or this very message redelivered).

    Returns the claim token, or None when the study is not claimable (another live worker has it,
    or it has finished): a duplicate or redelivered message is then a no-op.
    """
    now = utcnow()
    token = secrets.token_hex(12)
    takeover = Study.heartbeat_at < now - stale_after
    if redelivered:  # this very message again: the worker that had it died (acks_late)
        takeover = or_(takeover, Study.task_id == task_id)
    takeover = takeover & Study.parts_total.is_(None)  # a fanned-out study lives on in its parts
    result = session.execute(
        update(Study)
        .where(Study.id == study_id, Study.cancel_requested.is_(False))
        .where(or_(Study.status == StudyStatus.QUEUED, (Study.status == StudyStatus.RUNNING) & takeover))
        .values(
            status=StudyStatus.RUNNING,
            worker=worker,
            task_id=task_id,
            claim_token=token,
            started_at=now,
            heartbeat_at=now,
            attempts=Study.attempts + 1,
            step="starting",
        )
    )
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


def heartbeat(
    session: Session, *, study_id: str, token: str, fraction: float | None = None, step: str | None = None
) -> ClaimState:
    """Record liveness (and progress); returns what the worker should do next."""
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if fraction is not None:
        values["progress"] = max(0.0, min(1.0, fraction))
    if step is not None:
        values["step"] = step[:300]
    result = session.execute(update(Study).where(Study.id == study_id, Study.claim_token == token).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return ClaimState.LOST
    cancel = session.scalar(select(Study.cancel_requested).where(Study.id == study_id))
    return ClaimState.CANCEL if cancel else ClaimState.OK


def finish_study(
    session: Session, *, study_id: str, token: str, status: StudyStatus, result_json: str, netcdf: bytes | None
) -> bool:
    """Store the result and the final status, if this worker still holds the claim."""
    done = session.execute(
        update(Study)
        .where(Study.id == study_id, Study.claim_token == token, Study.status == StudyStatus.RUNNING)
        .values(status=status, progress=1.0, step="done", finished_at=utcnow(), claim_token=None)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(StudyResultRow(study_id=study_id, result_json=result_json, netcdf=netcdf))
    _close_parts(session, study_id)
    return True


def _close_parts(session: Session, study_id: str) -> None:
    """A finished study's parts are in its result (or no longer wanted): free their space, and mark
    the ones never solved canceled, their claims void (a worker still solving one stops at its next
    heartbeat)."""
    session.execute(update(StudyPart).where(StudyPart.study_id == study_id).values(payload=None))
    session.execute(
        update(StudyPart)
        .where(StudyPart.study_id == study_id, StudyPart.status.in_((PartStatus.PENDING, PartStatus.RUNNING)))
        .values(status=PartStatus.CANCELED, claim_token=None, finished_at=utcnow())
    )


def fail_study(
    session: Session,
    *,
    study_id: str,
    code: str,
    message: str,
    token: str | None = None,
    status: StudyStatus = StudyStatus.FAILED,
) -> bool:
    """Mark a study failed (or canceled); with ``token``, only if the claim still matches."""
    where = [Study.id == study_id, Study.status.notin_(TERMINAL)]
    if token is not None:
        where.append(Study.claim_token == token)
    result = session.execute(
        update(Study)
        .where(*where)
        .values(status=status, error_code=code, error_message=message[:4000], finished_at=utcnow(), claim_token=None, step=code)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _close_parts(session, study_id)
    return True


def request_cancel(*, study: Study) -> None:
    """Cancel: a queued study is canceled now; a running one stops at its next checkpoint."""
    if study.status == StudyStatus.QUEUED:
        study.status = StudyStatus.CANCELED
        study.finished_at = utcnow()
        study.step = "canceled before it started"
        study.error_code, study.error_message = "study_canceled", "canceled by the user before it started"
    if study.status == StudyStatus.RUNNING:
        study.cancel_requested = True


def get_result(session: Session, *, study_id: str) -> StudyResultRow | None:
    """The stored result of a study."""
    return session.get(StudyResultRow, study_id)


def stale_running(session: Session, *, heartbeat_before: datetime) -> Sequence[Study]:
    """Running studies (not fanned out: their parts are swept) whose worker has not beaten since ``heartbeat_before``."""
    return session.scalars(
        select(Study).where(
            Study.status == StudyStatus.RUNNING, Study.heartbeat_at < heartbeat_before, Study.parts_total.is_(None)
        )
    ).all()


def canceled_fanouts(session: Session, *, heartbeat_before: datetime) -> Sequence[Study]:
    """Fanned-out studies with a cancel request that no part worker has acted on since ``heartbeat_before``."""
    return session.scalars(
        select(Study).where(
            Study.status == StudyStatus.RUNNING,
            Study.cancel_requested.is_(True),
            Study.parts_total.is_not(None),
            Study.heartbeat_at < heartbeat_before,
        )
    ).all()


def queued_before(session: Session, *, queued_before: datetime) -> Sequence[Study]:
    """Studies still queued since before ``queued_before`` (their message may be lost)."""
    return session.scalars(
        select(Study).where(
            Study.status == StudyStatus.QUEUED, Study.queued_at < queued_before, Study.cancel_requested.is_(False)
        )
    ).all()


def _counts_by_tenant(session: Session, *where: Any) -> dict[str, int]:
    rows = session.execute(select(Study.tenant_id, func.count()).where(*where).group_by(Study.tenant_id)).all()
    return {str(tenant): int(count) for tenant, count in rows}


def next_to_send(
    session: Session, *, tenant_id: str | None, waiting_per_tenant: int, running_per_tenant: int, limit: int = 1000
) -> list[Study]:
    """Queued studies whose message is not sent yet and whose tenant has room: fewer than
    ``waiting_per_tenant`` messages waiting in the broker and, when ``running_per_tenant`` > 0, fewer
    running and waiting studies than that; oldest first (see :mod:`impact_service.queue.dispatch`)."""
    held_where = [Study.status == StudyStatus.QUEUED, Study.task_id.is_(None), Study.cancel_requested.is_(False)]
    if tenant_id is not None:
        held_where.append(Study.tenant_id == tenant_id)
    held = session.scalars(select(Study).where(*held_where).order_by(Study.queued_at, Study.id).limit(limit)).all()
    if not held:
        return []
    waiting = _counts_by_tenant(session, Study.status == StudyStatus.QUEUED, Study.task_id.is_not(None))
    running = _counts_by_tenant(session, Study.status == StudyStatus.RUNNING) if running_per_tenant > 0 else {}
    chosen = []
    for study in held:
        tenant = study.tenant_id
        busy = waiting.get(tenant, 0)
        if busy >= waiting_per_tenant or (running_per_tenant > 0 and busy + running.get(tenant, 0) >= running_per_tenant):
            continue
        chosen.append(study)
        waiting[tenant] = busy + 1
    return chosen


def forget_sent(session: Session) -> int:
    """Treat every queued study as unsent (the broker restarted and may have lost its last messages:
    the dispatcher sends them again; a duplicate message is a no-op). Returns how many."""
    result = session.execute(update(Study).where(Study.status == StudyStatus.QUEUED).values(task_id=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_sending(session: Session, *, study_id: str, mark: str) -> bool:
    """Take the right to send a queued study's message (False: another dispatcher has it)."""
    result = session.execute(
        update(Study)
        .where(Study.id == study_id, Study.status == StudyStatus.QUEUED, Study.task_id.is_(None))
        .values(task_id=mark)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def clear_sending(session: Session, *, study_id: str, mark: str) -> None:
    """The send failed: the study waits for the next dispatch."""
    session.execute(update(Study).where(Study.id == study_id, Study.task_id == mark).values(task_id=None))


def queued_count(session: Session, *, tenant_id: str) -> int:
    """A tenant's queued studies (sent or not)."""
    return int(
        session.scalar(
            select(func.count()).select_from(Study).where(Study.tenant_id == tenant_id, Study.status == StudyStatus.QUEUED)
        )
        or 0
    )


def record_sent(session: Session, *, study_id: str, task_id: str) -> None:
    """A queued study's message reached the broker."""
    session.execute(
        update(Study).where(Study.id == study_id, Study.status == StudyStatus.QUEUED).values(task_id=task_id, step="queued")
    )


def requeue(*, study: Study, reason: str) -> None:
    """Put a study back in the queue (the caller sends its task again after the commit)."""
    study.status = StudyStatus.QUEUED
    study.task_id = None  # unsent until the new message reaches the broker
    study.claim_token = None
    study.parts_total = None
    study.queued_at = utcnow()
    study.step = f"requeued: {reason}"[:300]


def count_by_status(session: Session) -> dict[StudyStatus, int]:
    """Number of studies per status (all tenants), for metrics."""
    rows = session.execute(select(Study.status, func.count()).group_by(Study.status)).all()
    return {StudyStatus(status): int(count) for status, count in rows}


def save_upload(session: Session, *, tenant_id: str, name: str, fmt: str, checksum: str, content: bytes) -> GridUpload:
    """Store a validated upload."""
    row = GridUpload(
        id=new_id("gr"),
        tenant_id=tenant_id,
        name=name[:200],
        format=fmt,
        checksum=checksum,
        size_bytes=len(content),
        content=content,
    )
    session.add(row)
    session.flush()
    return row


def get_upload(session: Session, *, upload_id: str, tenant_id: str | None = None) -> GridUpload | None:
    """An upload; with ``tenant_id``, only when it belongs to that tenant."""
    row = session.get(GridUpload, upload_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        return None
    return row


def list_uploads(session: Session, *, tenant_id: str) -> Sequence[GridUpload]:
    """A tenant's uploads, newest first."""
    return session.scalars(
        select(GridUpload).where(GridUpload.tenant_id == tenant_id).order_by(GridUpload.created_at.desc())
    ).all()


def save_profile(
    session: Session, *, tenant_id: str, name: str, checksum: str, hours: int, summary: dict[str, object], content: bytes
) -> ProfileUpload:
    """Store a validated hourly profile."""
    row = ProfileUpload(
        id=new_id("pr"),
        tenant_id=tenant_id,
        name=name[:200],
        checksum=checksum,
        size_bytes=len(content),
        hours=hours,
        summary=summary,
        content=content,
    )
    session.add(row)
    session.flush()
    return row


def get_profile(session: Session, *, profile_id: str, tenant_id: str | None = None) -> ProfileUpload | None:
    """A profile upload; with ``tenant_id``, only when it belongs to that tenant."""
    row = session.get(ProfileUpload, profile_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        return None
    return row


def list_profiles(session: Session, *, tenant_id: str) -> Sequence[ProfileUpload]:
    """A tenant's profile uploads, newest first."""
    return session.scalars(
        select(ProfileUpload).where(ProfileUpload.tenant_id == tenant_id).order_by(ProfileUpload.created_at.desc())
    ).all()


def get_grid_index(session: Session, *, key: str, checksum: str | None = None) -> GridIndex | None:
    """The cached summary and bus table of a grid (None if absent or for another file version)."""
    row = session.get(GridIndex, key)
    if row is None or (checksum is not None and row.checksum != checksum):
        return None
    return row


def grid_bus_count(session: Session, *, key: str) -> int | None:
    """Number of buses of an indexed grid (None when not indexed)."""
    row = session.get(GridIndex, key)
    return None if row is None else int(row.summary.get("buses", len(row.buses)))  # type: ignore[call-overload]


def save_grid_index(
    session: Session, *, key: str, checksum: str, summary: dict[str, object], buses: list[list[object]]
) -> GridIndex:
    """Store (or replace) a grid's summary and bus table."""
    row = session.get(GridIndex, key)
    if row is None:
        row = GridIndex(key=key, checksum=checksum, summary=summary, buses=buses)
        session.add(row)
    else:
        row.checksum, row.summary, row.buses = checksum, summary, buses
    session.flush()
    return row
