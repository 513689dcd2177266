"""Large studies fan out over the fleet: the outages are split into parts that any worker solves,
and the merge runs as its own task once the last part is stored.

Why not a Celery chord: a chord needs a result backend and counts completions there, while here
the database is the system of record. With late acknowledgement a part can run twice (redelivery,
the sweeper), and a backend counter would count it twice; a part row is claimed, stored and
counted once. The last part to finish sends the merge (``claim_merge`` is true for exactly one
caller), no task ever waits on another (no ``.get()``), and the sweeper re-sends lost parts and
merges. Each worker recomputes the study's plan (phase 1 is deterministic and cheap next to the
outages) and proves it is the same plan with its fingerprint; the plans leave the N-0 and
nose-point hosting-capacity search to the merge unless the parts search the N-1 limit.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

from grid_models.errors import PlanMismatchError
from impact_service.queue.client import send_merge, send_run_part
from impact_service.settings import Settings
from impact_service.store import parts as part_repo
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import StudyPart, StudyStatus, utcnow
from workers.execution import Beat, ClaimLost, plan_for, store_result, study_errors, worker_name

if TYPE_CHECKING:
    from grid_models.pipeline import Part, StudyPlan

__all__ = ["fan_out", "merge_job", "run_part_job", "sweep_fanouts"]

logger = logging.getLogger(__name__)

_HOSTING_SHARE = 8  # a part that also searches the N-1 hosting capacity is solved at a dozen or so demand levels
_PLANS: OrderedDict[tuple[str, str], tuple[StudyPlan, str]] = OrderedDict()
_PLANS_KEPT = 2


def _fleet_parts(settings: Settings, plan: StudyPlan) -> list[Part] | None:
    """The parts for the fleet (about ``fanout_part_bus_outages`` outages x buses each), or None
    when the study is one part: its worker finishes it alone."""
    from grid_models.pipeline import plan_parts

    if settings.fanout_part_bus_outages <= 0 or not (plan.outage_stages or plan.annual is not None):
        return None
    rows = max(settings.fanout_part_bus_outages // max(len(plan.prepared.bus_ids), 1), 1)
    parts = plan_parts(
        plan,
        rows_per_part=rows,
        hosting_rows_per_part=max(rows // _HOSTING_SHARE, 1),
        hours_per_part=settings.fanout_hours_per_part,
    )
    return parts if len(parts) > 1 else None


def _work_text(parts: list[Part]) -> str:
    """What the parts hold: an annual study's hours, outages, or both."""
    hours = sum(part.size for part in parts if part.kind.value == "hours")
    outages = any(part.kind.value != "hours" for part in parts)
    if hours and outages:
        return f"{hours:,} hours and the outages"
    return f"{hours:,} hours" if hours else "outages"


def fan_out(settings: Settings, *, study_id: str, token: str, plan: StudyPlan) -> bool:
    """Split the study's outages into parts and queue them, when the study is large enough.

    Returns False (nothing done) for a study that one worker should finish alone.
    Raises ClaimLost when this worker no longer holds the study."""
    from grid_models.pipeline import parts_fraction, plan_fingerprint

    parts = _fleet_parts(settings, plan)
    if parts is None:
        return False
    fingerprint = plan_fingerprint(plan)
    items = [part_repo.PartItem(p.stage_index, p.start, p.stop, p.hosting, p.kind.value) for p in parts]
    with session_scope(settings.database()) as session:
        ids = part_repo.create_parts(session, study_id=study_id, token=token, fingerprint=fingerprint, items=items)
        step = f"{_work_text(parts)} split into {len(items)} parts for the worker fleet"
        repo.heartbeat(session, study_id=study_id, token=token, fraction=parts_fraction(0, len(items)), step=step)
    if ids is None:
        raise ClaimLost("the study was requeued before its parts were created")
    _remember(study_id, token, plan, fingerprint)
    buses = len(plan.prepared.bus_ids)
    try:
        for part_id in ids:
            send_run_part(settings.broker(), part_id, buses=buses)
    except Exception as exc:  # noqa: BLE001 - the parts are stored: the sweeper sends them again once the broker is back
        logger.warning("part_send_failed study_id=%s error=%s", study_id, exc)
    logger.info("study_fanned_out study_id=%s parts=%d", study_id, len(ids))
    return True


def _remember(study_id: str, token: str, plan: StudyPlan, fingerprint: str) -> None:
    _PLANS[(study_id, token)] = (plan, fingerprint)
    _PLANS.move_to_end((study_id, token))
    while len(_PLANS) > _PLANS_KEPT:
        _PLANS.popitem(last=False)


def _plan_for(settings: Settings, study_id: str, token: str, beat: Beat) -> tuple[StudyPlan, str]:
    """The study's plan, recomputed once per worker process, checked against the fan-out's fingerprint."""
    from grid_models.pipeline import plan_fingerprint
    from grid_models.provenance import gridimpact_version
    from grid_models.spec import StudySpec

    if (study_id, token) in _PLANS:
        _PLANS.move_to_end((study_id, token))
        return _PLANS[(study_id, token)]
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        if study is None or study.plan_fingerprint is None:
            raise ClaimLost("the study is gone or no longer fanned out")
        spec, grid_key, tenant_id, expected = (
            StudySpec.model_validate(study.spec),
            study.grid_key,
            study.tenant_id,
            study.plan_fingerprint,
        )
    # the same plan as the coordinator's: the hosting-capacity search is left to the merge
    plan = plan_for(settings, spec, grid_key, tenant_id, progress=beat.check)
    fingerprint = plan_fingerprint(plan)
    if fingerprint != expected:
        raise PlanMismatchError(
            f"worker {worker_name()} (gridimpact {gridimpact_version()}) computed another plan for this study than the worker "
            "that split it; run the same gridimpact version and libraries on every worker of the fleet"
        )
    _remember(study_id, token, plan, fingerprint)
    return plan, fingerprint


def _cancel_if_requested(settings: Settings, part_id: str) -> None:
    """A part that cannot be claimed because its study was canceled while it waited: finish the cancel."""
    with session_scope(settings.database()) as session:
        part = session.get(StudyPart, part_id)
        study = repo.get_study(session, study_id=part.study_id) if part is not None else None
        if study is not None and study.status == StudyStatus.RUNNING and study.cancel_requested:
            repo.fail_study(
                session, study_id=study.id, code="study_canceled", message="canceled by the user", status=StudyStatus.CANCELED
            )


def run_part_job(part_id: str, *, task_id: str, redelivered: bool, settings: Settings) -> None:
    """Claim, solve and store one part; the last part to finish sends the merge."""
    from grid_models.pipeline import Part, PartKind, encode_part, solve_part

    with session_scope(settings.database()) as session:
        stale_after = timedelta(seconds=settings.stale_after_s)
        claim = part_repo.claim_part(
            session, part_id=part_id, worker=worker_name(), task_id=task_id, redelivered=redelivered, stale_after=stale_after
        )
    if claim is None:
        logger.info("part_not_claimable part_id=%s task_id=%s", part_id, task_id)
        _cancel_if_requested(settings, part_id)
        return
    study_id, study_token = claim.study_id, claim.study_token
    with (
        study_errors(settings, study_id, study_token),
        Beat(settings, study_id, study_token, part=(part_id, claim.token)) as beat,
    ):
        plan, fingerprint = _plan_for(settings, study_id, study_token, beat)
        item = claim.item
        part = Part(item.stage_index, item.start, item.stop, hosting=item.hosting, kind=PartKind(item.kind))
        result = solve_part(plan, part, check=beat.check)
        beat.check()
        payload = encode_part(part, result, fingerprint=fingerprint)
        with session_scope(settings.database()) as session:
            finished = part_repo.finish_part(
                session, part_id=part_id, token=claim.token, payload=payload, duration_s=result.duration_s
            )
            if not finished:
                raise ClaimLost(f"part {claim.number} was requeued while it ran")
        _after_part(settings, study_id, study_token, buses=len(plan.prepared.bus_ids))
    logger.info("part_finished study_id=%s part=%d", study_id, claim.number)


def _after_part(settings: Settings, study_id: str, study_token: str, *, buses: int) -> None:
    """Report progress; the caller that completes the last part sends the merge (after its own commit)."""
    from grid_models.pipeline import parts_fraction

    with session_scope(settings.database()) as session:
        done, total = part_repo.part_counts(session, study_id=study_id)
        step = f"outages: {done} of {total} parts solved"
        repo.heartbeat(session, study_id=study_id, token=study_token, fraction=parts_fraction(done, total), step=step)
    with session_scope(settings.database()) as session:
        merge = part_repo.claim_merge(session, study_id=study_id)
    if merge:
        send_merge(settings.broker(), study_id, buses=buses)


def merge_job(study_id: str, *, settings: Settings) -> None:
    """Join a fanned-out study's parts and finish it (a merge for a finished or unready study is a no-op)."""
    from grid_models.pipeline import Part, PartKind, complete_study, decode_part, merge_parts
    from grid_models.pipeline.progress import MERGING
    from grid_models.results import ExecutionMode, ExecutionRecord

    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        if study is None or study.status != StudyStatus.RUNNING or study.parts_total is None or study.claim_token is None:
            logger.info("merge_not_needed study_id=%s", study_id)
            return
        token, started_at = study.claim_token, (study.started_at or utcnow()).replace(tzinfo=UTC)
        rows = part_repo.parts_of(session, study_id=study_id)
        stored = [
            (Part(r.stage_index, r.start, r.stop, hosting=r.hosting, kind=PartKind(r.kind)), r.payload, r.worker) for r in rows
        ]
        parts_s = _parts_span_s(rows)
    if len(stored) != study.parts_total or any(payload is None for _, payload, _ in stored):
        logger.info("merge_not_ready study_id=%s", study_id)
        return
    with study_errors(settings, study_id, token), Beat(settings, study_id, token) as beat:
        beat.progress(MERGING, f"merging {len(stored)} outage parts")
        plan, fingerprint = _plan_for(settings, study_id, token, beat)
        results = {part: decode_part(data or b"", plan=plan, part=part, fingerprint=fingerprint) for part, data, _ in stored}
        workers = sorted({worker or "" for _, _, worker in stored})
        execution = ExecutionRecord(
            mode=ExecutionMode.FLEET,
            parts=len(stored),
            workers=workers,
            plan_fingerprint=fingerprint,
            plan_s=plan.duration_s,
            parts_s=parts_s,
        )
        result = complete_study(
            plan, merge_parts(plan, results), execution=execution, started_at=started_at, progress=beat.progress
        )
        store_result(settings, study_id, token, result)
    _PLANS.pop((study_id, token), None)


def _parts_span_s(rows: Sequence[StudyPart]) -> float | None:
    """Phase 2 on the fleet: from the first part queued to the last one finished (wall clock)."""
    finished = [r.finished_at for r in rows if r.finished_at is not None]
    if not rows or len(finished) != len(rows):
        return None
    return max(0.0, (max(finished) - min(r.queued_at for r in rows)).total_seconds())


def sweep_fanouts(settings: Settings) -> dict[str, int]:
    """Requeue parts whose worker died, re-send parts and merges whose message was lost, finish
    cancels nobody acted on. Returns what it did."""
    now = utcnow()
    stale, quiet = now - timedelta(seconds=settings.stale_after_s), now - timedelta(seconds=settings.requeue_after_s)
    counts = {"parts_requeued": 0, "parts_resent": 0, "merges_resent": 0, "failed": 0, "canceled": 0}
    parts: list[tuple[str, str]] = []  # (part id, study id)
    merges: list[str] = []
    with session_scope(settings.database()) as session:
        for part in part_repo.stale_parts(session, heartbeat_before=stale):
            if part.attempts >= settings.max_attempts:
                message = f"the workers solving part {part.number} of this study died {part.attempts} times"
                counts["failed"] += repo.fail_study(session, study_id=part.study_id, code="worker_lost", message=message)
            else:
                part_repo.requeue_part(part=part)
                parts.append((part.id, part.study_id))
                counts["parts_requeued"] += 1
        for part in part_repo.waiting_parts(session, queued_before=quiet):
            part.queued_at = now
            parts.append((part.id, part.study_id))
            counts["parts_resent"] += 1
        for study in part_repo.stalled_merges(session, sent_before=quiet, heartbeat_before=stale):
            if study.attempts > settings.max_attempts:
                message = f"the workers merging this study died {study.attempts - 1} times"
                counts["failed"] += repo.fail_study(session, study_id=study.id, code="worker_lost", message=message)
                continue
            study.attempts, study.merge_sent_at = study.attempts + 1, now
            merges.append(study.id)
            counts["merges_resent"] += 1
        for study in repo.canceled_fanouts(session, heartbeat_before=stale):
            counts["canceled"] += repo.fail_study(
                session, study_id=study.id, code="study_canceled", message="canceled by the user", status=StudyStatus.CANCELED
            )
        keys = {study_id: repo.get_study(session, study_id=study_id) for study_id in {s for _, s in parts} | set(merges)}
        buses = {sid: repo.grid_bus_count(session, key=s.grid_key) if s else None for sid, s in keys.items()}
    for part_id, study_id in parts:
        send_run_part(settings.broker(), part_id, buses=buses.get(study_id))
    for study_id in merges:
        send_merge(settings.broker(), study_id, buses=buses.get(study_id))
    return counts
