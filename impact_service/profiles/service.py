"""Profile uploads: validated by the engine's reader (no code runs), stored for the tenant."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from impact_service.errors import NotFound, PayloadTooLarge, UnprocessableEntity
from impact_service.profiles.schemas import ProfileCreated
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.models import ProfileUpload

__all__ = ["create_profile", "get_profile", "list_profiles", "resource"]


def resource(row: ProfileUpload) -> ProfileCreated:
    """The API form of a stored profile."""
    summary = row.summary
    return ProfileCreated(
        id=row.id,
        name=row.name,
        checksum=row.checksum,
        size_bytes=row.size_bytes,
        hours=row.hours,
        columns=str(summary.get("columns", "")),
        column_numbers=[int(n) for n in summary.get("column_numbers", [])],  # type: ignore[attr-defined]
        unit=str(summary.get("unit", "")),
        first_hour=str(summary.get("first_hour", "")),
        created_at=row.created_at,
    )


def create_profile(session: Session, settings: Settings, *, tenant_id: str, filename: str, content: bytes) -> ProfileUpload:
    """Validate a profile CSV (every problem listed in the 422) and store it."""
    from grid_models.catalog.profiles import MAX_PROFILE_BYTES, ProfileValidationError, parse_profile_csv

    limit = min(settings.max_upload_bytes, MAX_PROFILE_BYTES)
    if len(content) > limit:
        raise PayloadTooLarge(f"the profile has {len(content):,} bytes; the limit is {limit:,}")
    try:
        profile = parse_profile_csv(content, name=filename, max_bytes=limit)
    except ProfileValidationError as exc:
        raise UnprocessableEntity(
            exc.message, code="profile_invalid", details=[issue.to_dict() for issue in exc.issues]
        ) from None
    summary: dict[str, object] = {
        "columns": profile.columns_kind.value,
        "column_numbers": list(profile.columns),
        "unit": profile.unit.value,
        "first_hour": profile.start.isoformat(),
    }
    row = repo.save_profile(
        session,
        tenant_id=tenant_id,
        name=filename,
        checksum=hashlib.sha256(content).hexdigest(),
        hours=profile.hours,
        summary=summary,
        content=content,
    )
    session.commit()
    return row


def get_profile(session: Session, *, tenant_id: str, profile_id: str) -> ProfileUpload:
    """A tenant's profile (another tenant's is a 404)."""
    row = repo.get_profile(session, profile_id=profile_id, tenant_id=tenant_id)
    if row is None:
        raise NotFound(f"no profile {profile_id!r}; upload one with POST /v1/profiles")
    return row


def list_profiles(session: Session, *, tenant_id: str) -> list[ProfileCreated]:
    """A tenant's profiles, newest first."""
    return [resource(row) for row in repo.list_profiles(session, tenant_id=tenant_id)]
