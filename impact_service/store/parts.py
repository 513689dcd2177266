"""Fan-out in the store: a study's outage slices as parts that any worker claims, solves and stores.

Life cycle (the database is the system of record, as for studies):

1. The worker holding the study's claim plans it and calls :func:`create_parts`; the study stays
   ``running`` with ``parts_total`` set, and its claim token becomes the fan-out's generation: part
   workers write progress and heartbeat with it, and lose their right to write when it changes.
2. A part message claims its part atomically (:func:`claim_part`, same rules as a study: a
   duplicate is a no-op, a redelivered message or a stale heartbeat takes over), stores the slice
   bytes with :func:`finish_part`, then asks :func:`claim_merge`, which is true for exactly one
   caller once every part is done: that caller sends the merge task.
3. The merge reads the payloads and finishes the study; the payloads are then dropped.

The sweeper requeues parts whose worker died, re-sends parts whose message was lost and merges
that never started (see ``workers.runner.sweep``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from impact_service.store.models import PartStatus, Study, StudyPart, StudyStatus, utcnow
from impact_service.store.repository import new_id

__all__ = [
    "PartClaim",
    "PartItem",
    "claim_merge",
    "claim_part",
    "create_parts",
    "finish_part",
    "part_counts",
    "part_heartbeat",
    "parts_of",
    "requeue_part",
    "stale_parts",
    "stalled_merges",
    "waiting_parts",
]


@dataclass(frozen=True)
class PartItem:
    """What a part solves: outages ``start:stop`` of stage ``stage_index`` (and the N-1 hosting part)."""

    stage_index: int
    start: int
    stop: int
    hosting: bool
    kind: str = "outages"  # grid_models.pipeline.PartKind: outages or hours


@dataclass(frozen=True)
class PartClaim:
    """A claimed part: its token, the study's generation token, and the work."""

    token: str
    study_id: str
    study_token: str
    number: int
    item: PartItem


def create_parts(session: Session, *, study_id: str, token: str, fingerprint: str, items: list[PartItem]) -> list[str] | None:
    """Split a running study into parts (replacing any of an earlier attempt); returns the part ids
    in order, or None when ``token`` no longer holds the study's claim."""
    claimed = session.execute(
        update(Study)
        .where(Study.id == study_id, Study.claim_token == token, Study.status == StudyStatus.RUNNING)
        .values(parts_total=len(items), plan_fingerprint=fingerprint, merge_sent_at=None, heartbeat_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.execute(delete(StudyPart).where(StudyPart.study_id == study_id))
    rows = [
        StudyPart(
            id=new_id("pt"),
            study_id=study_id,
            number=number,
            stage_index=item.stage_index,
            start=item.start,
            stop=item.stop,
            hosting=item.hosting,
            kind=item.kind,
        )
        for number, item in enumerate(items)
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _live_fanout() -> Select[str]:
    return select(Study.id).where(
        Study.status == StudyStatus.RUNNING, Study.cancel_requested.is_(False), Study.parts_total.is_not(None)
    )


def claim_part(
    session: Session, *, part_id: str, worker: str, task_id: str, redelivered: bool, stale_after: timedelta
) -> PartClaim | None:
    """Take a pending part (or one whose worker stopped beating, or this very message redelivered);
    None when it is done, held by a live worker, or its study is no longer running."""
    now, token = utcnow(), secrets.token_hex(12)
    takeover = StudyPart.heartbeat_at < now - stale_after
    if redelivered:
        takeover = or_(takeover, StudyPart.task_id == task_id)
    result = session.execute(
        update(StudyPart)
        .where(StudyPart.id == part_id, StudyPart.study_id.in_(_live_fanout()))
        .where(or_(StudyPart.status == PartStatus.PENDING, (StudyPart.status == PartStatus.RUNNING) & takeover))
        .values(
            status=PartStatus.RUNNING,
            worker=worker,
            task_id=task_id,
            claim_token=token,
            started_at=now,
            heartbeat_at=now,
            attempts=StudyPart.attempts + 1,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    part = session.get(StudyPart, part_id)
    study_token = session.scalar(select(Study.claim_token).where(Study.id == part.study_id)) if part else None
    if part is None or study_token is None:
        return None
    item = PartItem(part.stage_index, part.start, part.stop, part.hosting, part.kind)
    return PartClaim(token, part.study_id, study_token, part.number, item)


def part_heartbeat(session: Session, *, part_id: str, token: str) -> bool:
    """Record that the part's worker is alive; False when the claim is gone."""
    result = session.execute(
        update(StudyPart).where(StudyPart.id == part_id, StudyPart.claim_token == token).values(heartbeat_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_part(session: Session, *, part_id: str, token: str, payload: bytes, duration_s: float) -> bool:
    """Store a solved part, if this worker still holds its claim."""
    result = session.execute(
        update(StudyPart)
        .where(StudyPart.id == part_id, StudyPart.claim_token == token, StudyPart.status == PartStatus.RUNNING)
        .values(status=PartStatus.DONE, payload=payload, duration_s=duration_s, finished_at=utcnow(), claim_token=None)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def part_counts(session: Session, *, study_id: str) -> tuple[int, int]:
    """(done, total) parts of a study."""
    rows = session.execute(
        select(StudyPart.status, func.count()).where(StudyPart.study_id == study_id).group_by(StudyPart.status)
    ).all()
    counts = {PartStatus(status): int(count) for status, count in rows}
    return counts.get(PartStatus.DONE, 0), sum(counts.values())


def claim_merge(session: Session, *, study_id: str) -> bool:
    """True for exactly one caller once every part of a running study is done: it sends the merge.

    Call it in its own transaction after the part's own commit, so that the last two parts to
    finish cannot both miss each other (each sees its own and every earlier commit)."""
    undone = (
        select(func.count())
        .select_from(StudyPart)
        .where(StudyPart.study_id == study_id, StudyPart.status != PartStatus.DONE)
        .scalar_subquery()
    )
    result = session.execute(
        update(Study)
        .where(Study.id == study_id, Study.status == StudyStatus.RUNNING, Study.parts_total.is_not(None))
        .where(Study.merge_sent_at.is_(None), undone == 0)
        .values(merge_sent_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def parts_of(session: Session, *, study_id: str) -> Sequence[StudyPart]:
    """A study's parts in order (with their payloads)."""
    return session.scalars(select(StudyPart).where(StudyPart.study_id == study_id).order_by(StudyPart.number)).all()


def stale_parts(session: Session, *, heartbeat_before: datetime) -> Sequence[StudyPart]:
    """Running parts of live fan-outs whose worker has not beaten since ``heartbeat_before``."""
    return session.scalars(
        select(StudyPart).where(
            StudyPart.status == PartStatus.RUNNING,
            StudyPart.heartbeat_at < heartbeat_before,
            StudyPart.study_id.in_(_live_fanout()),
        )
    ).all()


def waiting_parts(session: Session, *, queued_before: datetime) -> Sequence[StudyPart]:
    """Pending parts queued before ``queued_before`` of fan-outs where nothing moved since then
    (no part finished or beat): their messages may be lost."""
    quiet = select(Study.id).where(Study.id.in_(_live_fanout()), Study.heartbeat_at < queued_before)
    return session.scalars(
        select(StudyPart).where(
            StudyPart.status == PartStatus.PENDING,
            StudyPart.queued_at < queued_before,
            StudyPart.study_id.in_(quiet),
        )
    ).all()


def requeue_part(*, part: StudyPart) -> None:
    """Put a part back to pending (the caller sends its message again after the commit)."""
    part.status = PartStatus.PENDING
    part.claim_token = None
    part.queued_at = utcnow()


def stalled_merges(session: Session, *, sent_before: datetime, heartbeat_before: datetime) -> Sequence[Study]:
    """Fan-outs with every part done whose merge was never sent, or was sent before ``sent_before``
    and has not beaten since ``heartbeat_before`` (its message was lost or its worker died)."""
    undone = select(StudyPart.study_id).where(StudyPart.status != PartStatus.DONE)
    return session.scalars(
        select(Study).where(
            Study.id.in_(_live_fanout()),
            Study.id.not_in(undone),
            or_(Study.merge_sent_at.is_(None), Study.merge_sent_at < sent_before),
            Study.heartbeat_at < heartbeat_before,
        )
    ).all()
