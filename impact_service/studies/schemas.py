"""Response models of the studies API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from impact_service.store.models import Study, StudyStatus

__all__ = ["StudyError", "StudyPage", "StudyResource"]


class StudyError(BaseModel):
    """Why a study failed or was canceled."""

    code: str
    message: str


class StudyResource(BaseModel):
    """A study's status and progress."""

    id: str
    name: str
    status: StudyStatus
    progress: float = Field(description="0..1, updated by the worker while it runs")
    step: str = Field(description="what the worker is doing")
    grid: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    cancel_requested: bool
    error: StudyError | None
    links: dict[str, str]

    @classmethod
    def of(cls, study: Study) -> StudyResource:
        """The resource of a stored study."""
        base = f"/v1/studies/{study.id}"
        error = StudyError(code=study.error_code, message=study.error_message or "") if study.error_code else None
        return cls(
            id=study.id,
            name=study.name,
            status=StudyStatus(study.status),
            progress=study.progress,
            step=study.step,
            grid=study.grid_key,
            created_at=study.created_at,
            started_at=study.started_at,
            finished_at=study.finished_at,
            attempts=study.attempts,
            cancel_requested=study.cancel_requested,
            error=error,
            links={"self": base, "result": f"{base}/result", "netcdf": f"{base}/result.nc"},
        )


class StudyPage(BaseModel):
    """A page of studies."""

    items: list[StudyResource]
    total: int
    limit: int
    offset: int
