"""plans and plan versions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import aftercare.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("known_ids", _JSON, nullable=False),
        sa.Column("updated_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["graduate_id"], ["graduates.id"], name=op.f("fk_plans_graduate_id_graduates"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("graduate_id", name=op.f("pk_plans")),
    )
    op.create_table(
        "plan_versions",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("created_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("changed_sections", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["graduate_id"], ["graduates.id"], name=op.f("fk_plan_versions_graduate_id_graduates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("graduate_id", "version", name=op.f("pk_plan_versions")),
    )


def downgrade() -> None:
    op.drop_table("plan_versions")
    op.drop_table("plans")
