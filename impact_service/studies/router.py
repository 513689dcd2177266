"""/v1/studies routes: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from grid_models.spec import StudySpec
from impact_service.deps import ApiKeyHeader, BearerHeader, SessionDep, SettingsDep, TenantDep, open_session, tenant_of
from impact_service.errors import ERROR_RESPONSES
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.models import StudyStatus, Tenant
from impact_service.studies import service
from impact_service.studies.schemas import StudyPage, StudyResource

router = APIRouter(prefix="/v1/studies", tags=["studies"], responses=ERROR_RESPONSES)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the study has not finished (Retry-After says when to poll again), or it failed"}
}


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=StudyResource, responses={200: {"description": "the existing study"}}
)
def submit(
    spec: StudySpec,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    tenant: TenantDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> StudyResource:
    """Queue a study. An ``Idempotency-Key`` (or an identical earlier request) returns the existing study."""
    study, created = service.submit_study(session, settings, tenant_id=tenant.id, spec=spec, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/v1/studies/{study.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return StudyResource.of(study)


@router.get("", response_model=StudyPage)
def list_studies(
    session: SessionDep,
    tenant: TenantDep,
    status_filter: Annotated[StudyStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> StudyPage:
    """This tenant's studies, newest first."""
    rows, total = repo.list_studies(session, tenant_id=tenant.id, status=status_filter, limit=limit, offset=offset)
    return StudyPage(items=[StudyResource.of(s) for s in rows], total=total, limit=limit, offset=offset)


@router.get("/{study_id}", response_model=StudyResource)
async def get_study(
    study_id: str, settings: SettingsDep, x_api_key: ApiKeyHeader = None, authorization: BearerHeader = None
) -> Response:
    """Status and progress of a study."""
    # the endpoint clients poll: one trip to the thread pool (key, session and read together,
    # instead of one per dependency) and the JSON written once, not validated again on the way out
    body = await run_in_threadpool(_status_json, settings, study_id, x_api_key, authorization)
    return Response(body, media_type="application/json")


def _status_json(settings: Settings, study_id: str, x_api_key: str | None, authorization: str | None) -> bytes:
    with open_session(settings) as session:
        tenant = tenant_of(session, x_api_key=x_api_key, authorization=authorization)
        study = service.get_own_study(session, tenant_id=tenant.id, study_id=study_id)
        return StudyResource.of(study).model_dump_json().encode()


@router.delete("/{study_id}", response_model=StudyResource)
def cancel(study_id: str, session: SessionDep, tenant: TenantDep) -> StudyResource:
    """Cancel: a queued study never runs; a running one stops at its next checkpoint."""
    return StudyResource.of(service.cancel_study(session, tenant_id=tenant.id, study_id=study_id))


@router.get("/{study_id}/result", responses={200: {"content": {"application/json": {}}}, **_CONFLICT})
def result(study_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> Response:
    """The study result (JSON, see the StudyResult schema of the engine)."""
    row = service.finished_result(session, settings, tenant_id=tenant.id, study_id=study_id)
    return Response(content=row.result_json, media_type="application/json")


@router.get("/{study_id}/report", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}}, **_CONFLICT})
def report(study_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> HTMLResponse:
    """The study's report: one self-contained HTML page (findings, plots, provenance, sources)."""
    html = service.study_report(session, settings, tenant_id=tenant.id, study_id=study_id)
    return HTMLResponse(content=html, headers={"Content-Disposition": f'inline; filename="{study_id}.html"'})


_TABLES = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "csv": ("application/zip", "csv.zip"),
}


def _tables(study_id: str, session: Session, settings: Settings, tenant: Tenant, fmt: str) -> Response:
    content = service.study_tables(session, settings, tenant_id=tenant.id, study_id=study_id, fmt=fmt)
    media_type, extension = _TABLES[fmt]
    headers = {"Content-Disposition": f'attachment; filename="{study_id}.{extension}"'}
    return Response(content=content, media_type=media_type, headers=headers)


@router.get("/{study_id}/result.xlsx", responses={200: {"content": {_TABLES["xlsx"][0]: {}}}, **_CONFLICT})
def result_xlsx(study_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> Response:
    """Every table of the result (stages, violations, N-1, hosting capacity, load loss, emissions,
    permits, water, annual, findings, provenance) as one Excel workbook, a sheet per table, units in
    the headers."""
    return _tables(study_id, session, settings, tenant, "xlsx")


@router.get("/{study_id}/result.csv.zip", responses={200: {"content": {_TABLES["csv"][0]: {}}}, **_CONFLICT})
def result_csv(study_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> Response:
    """The same tables as CSV files (UTF-8, units in the headers), one per table, in a zip."""
    return _tables(study_id, session, settings, tenant, "csv")


@router.get("/{study_id}/result.nc", responses={200: {"content": {"application/x-netcdf": {}}}, **_CONFLICT})
def result_netcdf(study_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> Response:
    """The study's arrays (per stage x bus, branch, generator, contingency) as NetCDF."""
    row = service.finished_result(session, settings, tenant_id=tenant.id, study_id=study_id)
    if row.netcdf is None:
        return Response(
            status_code=404,
            content=b'{"error": {"code": "not_found", "message": "this result has no NetCDF"}}',
            media_type="application/json",
        )
    headers = {"Content-Disposition": f'attachment; filename="{study_id}.nc"'}
    return Response(content=row.netcdf, media_type="application/x-netcdf", headers=headers)
