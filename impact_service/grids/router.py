"""/v1/grids routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from impact_service.deps import SessionDep, SettingsDep, TenantDep
from impact_service.errors import ERROR_RESPONSES, UnprocessableEntity
from impact_service.grids import service
from impact_service.grids.schemas import BusList, GridDetail, GridList, UploadCreated
from impact_service.parsing import spooled

router = APIRouter(prefix="/v1/grids", tags=["grids"], responses=ERROR_RESPONSES)


@router.get("", response_model=GridList)
def list_grids(session: SessionDep, tenant: TenantDep) -> GridList:
    """The catalog grids and this tenant's uploads."""
    return GridList(items=service.list_grids(session, tenant_id=tenant.id))


@router.get("/{grid_id}", response_model=GridDetail)
def get_grid(grid_id: str, session: SessionDep, settings: SettingsDep, tenant: TenantDep) -> GridDetail:
    """A grid's summary."""
    kind, index = service.index_for(session, settings, tenant_id=tenant.id, grid_id=grid_id[:64])
    return GridDetail(id=grid_id, kind=kind, summary=index.summary)


@router.get("/{grid_id}/buses", response_model=BusList)
def buses(
    grid_id: str,
    session: SessionDep,
    settings: SettingsDep,
    tenant: TenantDep,
    name: Annotated[str | None, Query(max_length=80, description="prefix (ABILENE) or pattern (*MEMPHIS*)")] = None,
    min_kv: Annotated[float | None, Query(ge=0, le=2000)] = None,
    max_kv: Annotated[float | None, Query(ge=0, le=2000)] = None,
    area: Annotated[int | None, Query(ge=-(10**9), le=10**9)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> BusList:
    """Find points of interconnection by name and voltage level."""
    if min_kv is not None and max_kv is not None and min_kv > max_kv:
        raise UnprocessableEntity(f"min_kv ({min_kv:g}) is above max_kv ({max_kv:g}); swap them", code="invalid_request")
    _, index = service.index_for(session, settings, tenant_id=tenant.id, grid_id=grid_id[:64])
    return service.search_buses(index, name=name, min_kv=min_kv, max_kv=max_kv, area=area, limit=limit)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=UploadCreated, responses={413: {"description": "upload too large"}}
)
def upload(
    session: SessionDep,
    settings: SettingsDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="pandapower JSON (.json), MATPOWER case (.m) or PSS/E RAW 33-35 (.raw)")],
    format: Annotated[str, Form(pattern="^(auto|pandapower_json|matpower|psse_raw)$")] = "auto",
) -> UploadCreated:
    """Upload a grid; it is validated (every problem listed) and stored for this tenant."""
    name = (file.filename or "upload").replace("/", "_").replace("\\", "_")[:200]
    with spooled(file, limit=settings.max_upload_bytes, empty_code="grid_invalid") as path:
        row, summary = service.create_upload(session, settings, tenant_id=tenant.id, filename=name, path=path, fmt=format)
    return UploadCreated(
        id=row.id, name=row.name, format=row.format, checksum=row.checksum, size_bytes=row.size_bytes, summary=summary
    )
