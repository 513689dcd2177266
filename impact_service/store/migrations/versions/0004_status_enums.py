"""study and part statuses are enum columns (text with a CHECK constraint); parts can be canceled

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# the values as of this revision (a migration never follows later changes of the models)
_STUDY = ("queued", "running", "succeeded", "partially_succeeded", "failed", "canceled")
_PART = ("pending", "running", "done", "canceled")


def _status(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(24), type_=_status(_STUDY, "study_status"), existing_nullable=False
        )
    with op.batch_alter_table("study_parts", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(16), type_=_status(_PART, "part_status"), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("study_parts", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=_status(_PART, "part_status"), type_=sa.String(16), existing_nullable=False)
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=_status(_STUDY, "study_status"), type_=sa.String(24), existing_nullable=False
        )
