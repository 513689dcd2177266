"""Response models of /v1/profiles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["ProfileCreated", "ProfileList"]


class ProfileCreated(BaseModel):
    """A stored profile: name it in a study as ``analyses.annual.profile.upload_id``."""

    id: str
    name: str
    checksum: str
    size_bytes: int
    hours: int
    columns: str = Field(description="area, zone or system")
    column_numbers: list[int]
    unit: str = Field(description="mw or pu")
    first_hour: str
    created_at: datetime | None = None


class ProfileList(BaseModel):
    """This tenant's profiles, newest first."""

    items: list[ProfileCreated]
