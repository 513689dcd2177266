"""/v1/profiles routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status

from impact_service.deps import SessionDep, SettingsDep, TenantDep
from impact_service.errors import ERROR_RESPONSES
from impact_service.parsing import spooled
from impact_service.profiles import service
from impact_service.profiles.schemas import ProfileCreated, ProfileList

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=ERROR_RESPONSES)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ProfileCreated, responses={413: {"description": "too large"}}
)
def upload(
    session: SessionDep,
    settings: SettingsDep,
    tenant: TenantDep,
    file: Annotated[
        UploadFile, File(description="CSV: '# unit: MW' or '# unit: pu', then 'area N' / 'zone N' / 'system' columns")
    ],
) -> ProfileCreated:
    """Upload an hourly load profile (8,760 or 8,784 rows); every problem is listed in the 422."""
    name = (file.filename or "profile.csv").replace("/", "_").replace("\\", "_")[:200]
    with spooled(file, limit=service.profile_limit(settings), empty_code="profile_invalid") as path:
        return service.resource(service.create_profile(session, settings, tenant_id=tenant.id, filename=name, path=path))


@router.get("", response_model=ProfileList)
def list_profiles(session: SessionDep, tenant: TenantDep) -> ProfileList:
    """This tenant's profiles, newest first."""
    return ProfileList(items=service.list_profiles(session, tenant_id=tenant.id))


@router.get("/{profile_id}", response_model=ProfileCreated)
def get_profile(profile_id: str, session: SessionDep, tenant: TenantDep) -> ProfileCreated:
    """One of this tenant's profiles."""
    return service.resource(service.get_profile(session, tenant_id=tenant.id, profile_id=profile_id[:64]))
