"""Profile uploads: validated by the engine's reader (no code runs), stored for the tenant."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from impact_service.errors import NotFound
from impact_service.parsing import check_profile, in_child
from impact_service.profiles.schemas import ProfileCreated
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.models import ProfileUpload

__all__ = ["create_profile", "get_profile", "list_profiles", "profile_limit", "resource"]


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


def profile_limit(settings: Settings) -> int:
    """The largest profile file accepted, bytes."""
    from grid_models.catalog.profiles import MAX_PROFILE_BYTES

    return min(settings.max_upload_bytes, MAX_PROFILE_BYTES)


def create_profile(session: Session, settings: Settings, *, tenant_id: str, filename: str, path: Path) -> ProfileUpload:
    """Validate a profile CSV (spooled at ``path``) in a child process (every problem listed in the
    422) and store it."""
    _, hours, summary = in_child(check_profile, str(path), filename, profile_limit(settings), code="profile_invalid")
    content = path.read_bytes()
    row = repo.save_profile(
        session,
        tenant_id=tenant_id,
        name=filename,
        checksum=hashlib.sha256(content).hexdigest(),
        hours=hours,
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
