"""data rights: deletion requests and their tombstones, erased graduates, a notification kind

Revision ID: 0020
Revises: 0019

- ``deletion_requests``: a graduate's request to erase their data, then the erasure's tombstone
  (who, when, a reason code).
- ``graduates.erased_at``: the graduate row stays as a tombstone that no route reaches.
- ``notifications.kind``: ``deletion_request`` joins the kinds (the staff notice of a request).

As in 0008 and 0014, the values are copied here, not imported from the Literal types; SQLite's batch
mode recreates ``notifications``. Going down deletes the deletion requests and the
notices of them; erased graduates stay erased in their data but become reachable tombstones again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_0005 = (
    "checkin_prompt",
    "checkin_nudge",
    "therapy_reminder",
    "support_group_reminder",
    "medication_reminder",
    "alert",
    "escalation",
)
_KINDS = (*_KINDS_0005, "deletion_request")
_STATUSES = ("pending", "completed")
_REASONS = ("graduate_request", "consent_withdrawn", "retention_period_ended", "legal_order")


def upgrade() -> None:
    instant = aftercare.db.types.DateTimeUTC(timezone=True)
    op.create_table(
        "deletion_requests",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", instant, nullable=False),
        sa.Column("requested_by_graduate", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("erased_at", instant, nullable=True),
        sa.Column("erased_by", sa.Uuid(), nullable=True),
        sa.Column("erasure_reason", sa.String(length=32), nullable=True),
        sa.Column("kept_clinical_answers", sa.Boolean(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(sa.column("status").in_(_STATUSES), name=op.f("ck_deletion_requests_status")),
        sa.CheckConstraint(
            sa.column("erasure_reason").in_(_REASONS), name=op.f("ck_deletion_requests_erasure_reason")
        ),
        sa.ForeignKeyConstraint(
            ["graduate_id"],
            ["graduates.id"],
            name=op.f("fk_deletion_requests_graduate_id_graduates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_requests")),
    )
    op.create_index(
        "ix_deletion_requests_requested_at_id", "deletion_requests", ["requested_at", "id"], unique=False
    )
    op.create_index(
        "ix_deletion_requests_status_requested_at_id",
        "deletion_requests",
        ["status", "requested_at", "id"],
        unique=False,
    )
    op.create_index("ix_deletion_requests_graduate_id", "deletion_requests", ["graduate_id"], unique=False)

    op.add_column("graduates", sa.Column("erased_at", instant, nullable=True))

    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind"), sa.column("kind").in_(_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'deletion_request'")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind"), sa.column("kind").in_(_KINDS_0005))

    # Not batch mode: recreating ``graduates`` would copy into its generated ``risk_order``. SQLite
    # (3.35 and later) drops a column that no index or constraint names in place.
    op.drop_column("graduates", "erased_at")

    op.drop_index("ix_deletion_requests_graduate_id", table_name="deletion_requests")
    op.drop_index("ix_deletion_requests_status_requested_at_id", table_name="deletion_requests")
    op.drop_index("ix_deletion_requests_requested_at_id", table_name="deletion_requests")
    op.drop_table("deletion_requests")
