"""hourly profile uploads; study parts know their kind (outages or hours)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("profile_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_profile_uploads_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("study_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="outages"))


def downgrade() -> None:
    with op.batch_alter_table("study_parts", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("profile_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_uploads_tenant_id"))
    op.drop_table("profile_uploads")
