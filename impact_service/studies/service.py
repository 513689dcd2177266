"""Study use cases: submit (validate, store, commit, then send by name), list, get, cancel, results."""

from __future__ import annotations

import hashlib
import logging
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grid_models.spec import StudySpec
from impact_service.errors import Conflict, NotFound, TooManyRequests, UnprocessableEntity
from impact_service.grids.service import grid_key, index_for, resolve_site
from impact_service.queue.dispatch import dispatch_queued
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.models import TERMINAL, Study, StudyResultRow, StudyStatus
from impact_service.studies import checks

if TYPE_CHECKING:
    from grid_models.results import StudyResult

__all__ = ["cancel_study", "finished_result", "get_own_study", "study_report", "submit_study"]

logger = logging.getLogger(__name__)


def _validate_grid_and_site(session: Session, settings: Settings, *, tenant_id: str, spec: StudySpec) -> str:
    """Every check the spec and the grid's stored index can decide (422s); returns the grid key."""
    grid_id = spec.grid.catalog or spec.grid.upload_id or ""
    _, index = index_for(session, settings, tenant_id=tenant_id, grid_id=grid_id)
    resolve_site(index, bus=spec.site.bus, bus_name=spec.site.bus_name)
    checks.check_dispatch(index, spec)
    checks.check_monitoring(index, spec)
    checks.check_profile(session, index, tenant_id=tenant_id, spec=spec)
    return grid_key(catalog=spec.grid.catalog, upload_id=spec.grid.upload_id)


def _dispatch(settings: Settings, study: Study) -> None:
    """Send the tenant's queued studies whose turn it is (this one, unless the tenant has one
    waiting in the broker already: see :mod:`impact_service.queue.dispatch`)."""
    try:
        dispatch_queued(settings, tenant_id=study.tenant_id)
    except Exception as exc:  # noqa: BLE001 - the study is committed: it is sent once the broker is back
        logger.warning("study_send_failed study_id=%s error=%s", study.id, exc)
        study.step = "queued; the broker is unreachable, it will be sent when it is back"


def _check_quota(session: Session, settings: Settings, *, tenant_id: str) -> None:
    queued = repo.queued_count(session, tenant_id=tenant_id)
    if queued >= settings.tenant_max_queued:
        raise TooManyRequests(
            f"this tenant has {queued:,} studies queued, the limit is {settings.tenant_max_queued:,}; submit again when "
            "some have started (GET /v1/studies?status=queued lists them)",
            headers={"Retry-After": "30"},
        )


def _resubmission_key(spec: StudySpec) -> str:
    """The spec's hash and the gridimpact version: an identical resubmission returns the earlier
    study, unless gridimpact was upgraded since (its result may differ, so it runs again)."""
    return hashlib.sha256(f"{spec.input_hash()}|gridimpact {package_version('gridimpact')}".encode()).hexdigest()


def _same_request(existing: Study, spec: StudySpec, idempotency_key: str | None) -> Study:
    """The earlier study a request repeats. An idempotency key reused for another spec is a 422,
    as the IETF Idempotency-Key draft asks (returning the earlier study would answer a question
    that was not asked)."""
    reused = bool(idempotency_key) and existing.idempotency_key == idempotency_key
    if reused and StudySpec.model_validate(existing.spec).input_hash() != spec.input_hash():
        raise UnprocessableEntity(
            f"Idempotency-Key {idempotency_key!r} was used for a different study ({existing.id}); "
            "send a new key for a new request",
            code="idempotency_key_reused",
        )
    return existing


def submit_study(
    session: Session, settings: Settings, *, tenant_id: str, spec: StudySpec, idempotency_key: str | None
) -> tuple[Study, bool]:
    """Store and queue a study; returns ``(study, created)`` (an identical earlier request returns that study)."""
    key = _validate_grid_and_site(session, settings, tenant_id=tenant_id, spec=spec)
    input_hash = _resubmission_key(spec)
    existing = repo.find_existing_study(
        session, tenant_id=tenant_id, idempotency_key=idempotency_key, input_hash=input_hash, grid_key=key
    )
    if existing is not None:
        return _same_request(existing, spec, idempotency_key), False
    _check_quota(session, settings, tenant_id=tenant_id)
    try:
        study = repo.create_study(
            session,
            tenant_id=tenant_id,
            spec=spec.model_dump(mode="json"),
            input_hash=input_hash,
            grid_key=key,
            name=spec.name,
            idempotency_key=idempotency_key,
        )
        session.commit()
    except IntegrityError:  # the same idempotency key raced in from another request (at flush or commit)
        session.rollback()
        again = repo.find_existing_study(
            session, tenant_id=tenant_id, idempotency_key=idempotency_key, input_hash=input_hash, grid_key=key
        )
        if again is None:
            raise
        return _same_request(again, spec, idempotency_key), False
    _dispatch(settings, study)
    session.commit()
    session.refresh(study)
    return study, True


def get_own_study(session: Session, *, tenant_id: str, study_id: str) -> Study:
    """A study of this tenant (404 for unknown ids and other tenants' studies alike)."""
    study = repo.get_study(session, study_id=study_id[:64], tenant_id=tenant_id)
    if study is None:
        raise NotFound(f"no study {study_id[:64]!r}")
    return study


def cancel_study(session: Session, *, tenant_id: str, study_id: str) -> Study:
    """Cancel a study (no-op for finished ones)."""
    study = get_own_study(session, tenant_id=tenant_id, study_id=study_id)
    repo.request_cancel(study=study)
    session.commit()
    return study


def finished_result(session: Session, settings: Settings, *, tenant_id: str, study_id: str) -> StudyResultRow:
    """The stored result, or a 409 that says when to come back."""
    study = get_own_study(session, tenant_id=tenant_id, study_id=study_id)
    if study.status in (StudyStatus.FAILED, StudyStatus.CANCELED):
        raise Conflict(f"study {study.id} {study.status}: {study.error_message or ''}".strip(), code=f"study_{study.status}")
    if study.status not in TERMINAL:
        raise Conflict(
            f"study {study.id} is {study.status} ({study.progress:.0%}: {study.step}); retry later",
            code="study_not_finished",
            headers={"Retry-After": str(settings.result_retry_after_s)},
        )
    row = repo.get_result(session, study_id=study.id)
    if row is None:
        raise NotFound(f"study {study.id} has no stored result")
    return row


def _stored_result(row: StudyResultRow, study_id: str, *, what: str, code: str) -> StudyResult:
    """The stored result as the engine's model (a 409 ``code`` when an older gridimpact stored it)."""
    from pydantic import ValidationError

    from grid_models.results import StudyResult

    try:
        return StudyResult.model_validate_json(row.result_json)
    except ValidationError:
        raise Conflict(
            f"study {study_id}'s result was stored by an older gridimpact and cannot be {what}; submit the study again",
            code=code,
        ) from None


def study_report(session: Session, settings: Settings, *, tenant_id: str, study_id: str) -> str:
    """The study's HTML report: rendered from the stored result on the first request, then kept."""
    row = finished_result(session, settings, tenant_id=tenant_id, study_id=study_id)
    if row.report_html is not None:
        return row.report_html
    from grid_models.report import render_report

    row.report_html = render_report(_stored_result(row, study_id, what="rendered", code="report_unavailable"))
    session.commit()
    return row.report_html


def study_tables(session: Session, settings: Settings, *, tenant_id: str, study_id: str, fmt: str) -> bytes:
    """The result's tables: one Excel workbook (``fmt`` "xlsx") or CSV files in a zip ("csv")."""
    from grid_models.results.tables import result_tables, study_time, tables_csv_zip, tables_xlsx

    row = finished_result(session, settings, tenant_id=tenant_id, study_id=study_id)
    result = _stored_result(row, study_id, what="tabulated", code="tables_unavailable")
    tables = result_tables(result)
    writer = tables_xlsx if fmt == "xlsx" else tables_csv_zip
    return writer(tables, created=study_time(result))
