"""Tables of the system of record: tenants, API keys, uploaded grids, studies and their results."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "TERMINAL",
    "ApiKey",
    "Base",
    "ClaimState",
    "GridIndex",
    "GridUpload",
    "PartStatus",
    "ProfileUpload",
    "Study",
    "StudyPart",
    "StudyResultRow",
    "StudyStatus",
    "Tenant",
    "status_column",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo: every timestamp in the store is naive UTC (SQLite has no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


class StudyStatus(StrEnum):
    """Life cycle of a study."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class PartStatus(StrEnum):
    """Life cycle of one part of a fanned-out study."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELED = "canceled"  # its study was canceled (or failed) before the part was solved


class ClaimState(StrEnum):
    """What a worker's heartbeat learns about the study (or part) it holds."""

    OK = "ok"  # keep going
    CANCEL = "cancel"  # the user asked to cancel: stop at the next checkpoint
    LOST = "lost"  # the claim is gone (requeued, or finished elsewhere): stop without writing


TERMINAL = (StudyStatus.SUCCEEDED, StudyStatus.PARTIALLY_SUCCEEDED, StudyStatus.FAILED, StudyStatus.CANCELED)


def status_column(kind: type[StrEnum], *, name: str) -> Enum:
    """A status column: the enum's values as text with a CHECK constraint (portable between SQLite
    and PostgreSQL; migrations 0004 and later use the same definition)."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Declarative base."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=False)}


class Tenant(Base):
    """An organisation; it sees only its own studies and uploads."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` identifies it in lists and logs."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class GridUpload(Base):
    """A tenant's uploaded grid file, validated at upload."""

    __tablename__ = "grid_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(20))
    checksum: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # loaded only when read: a worker that has the upload parsed checks ownership without it
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileUpload(Base):
    """A tenant's uploaded hourly load profile (CSV), validated at upload."""

    __tablename__ = "profile_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    checksum: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    hours: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, object]] = mapped_column(JSON)  # columns, unit, first hour
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GridIndex(Base):
    """Summary and bus table of a grid (catalog or upload), so the API answers without the engine."""

    __tablename__ = "grid_index"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # catalog:<id> or upload:<id>
    checksum: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, object]] = mapped_column(JSON)
    buses: Mapped[list[list[object]]] = mapped_column(JSON)  # [bus_id, name, vn_kv, area, load_mw, gen_mw, branches]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Study(Base):
    """A study request and its status; the worker updates progress and the heartbeat while it runs."""

    __tablename__ = "studies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_study_idempotency"),
        Index("ix_studies_tenant_status", "tenant_id", "status"),
        Index("ix_studies_tenant_hash", "tenant_id", "input_hash"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    input_hash: Mapped[str] = mapped_column(String(64))  # spec hash and gridimpact version: resubmissions fold on it
    grid_key: Mapped[str] = mapped_column(String(120))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[StudyStatus] = mapped_column(
        status_column(StudyStatus, name="study_status"), default=StudyStatus.QUEUED, index=True
    )
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[str] = mapped_column(String(300), default="queued")
    error_code: Mapped[str | None] = mapped_column(String(60), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    claim_token: Mapped[str | None] = mapped_column(String(40), default=None)  # who may write progress and the result
    task_id: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # fan-out: set when the study's outages were split into parts for the fleet (None: one process)
    parts_total: Mapped[int | None] = mapped_column(Integer, default=None)
    plan_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    merge_sent_at: Mapped[datetime | None] = mapped_column(default=None)


class StudyPart(Base):
    """One part of a fanned-out study: claimed, solved and stored by any worker; the
    payload (npz bytes, see ``grid_models.pipeline.part_io``) is dropped once the study has finished."""

    __tablename__ = "study_parts"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_study_part_number"),
        Index("ix_study_parts_study_status", "study_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    stage_index: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    stop: Mapped[int] = mapped_column(Integer)
    hosting: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(16), default="outages")  # grid_models.pipeline.PartKind
    status: Mapped[PartStatus] = mapped_column(status_column(PartStatus, name="part_status"), default=PartStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    task_id: Mapped[str | None] = mapped_column(String(80), default=None)
    claim_token: Mapped[str | None] = mapped_column(String(40), default=None)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class StudyResultRow(Base):
    """A finished study's result: the JSON document and the NetCDF bytes."""

    __tablename__ = "study_results"

    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True)
    result_json: Mapped[str] = mapped_column(Text)
    netcdf: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    report_html: Mapped[str | None] = mapped_column(Text, default=None)  # rendered on first request, then kept
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
