"""schedules (next occurrence per graduate and stream) and leases

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    instant = aftercare.db.types.DateTimeUTC(timezone=True)
    op.create_table(
        "schedules",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("next_due_at", instant, nullable=False),
        sa.Column("planned_at", instant, nullable=False),
        sa.Column("occurrence_key", sa.String(length=200), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("item_id", sa.String(length=100), nullable=True),
        sa.Column("event_at", instant, nullable=True),
        sa.Column("deadline", instant, nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", instant, nullable=True),
        sa.Column("updated_at", instant, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["graduate_id"], ["graduates.id"], name=op.f("fk_schedules_graduate_id_graduates"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("graduate_id", "stream", name=op.f("uq_schedules_graduate_id")),
    )
    # The sweeper's claim (scheduling/sweeper.py): due rows in due order.
    op.create_index("ix_schedules_next_due_at", "schedules", ["next_due_at"], unique=False)
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("until", instant, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_schedules_next_due_at", table_name="schedules")
    op.drop_table("schedules")
