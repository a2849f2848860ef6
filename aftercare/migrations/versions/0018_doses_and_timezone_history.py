"""doses, time-zone history, a medication reminder's dose on its notification

Revision ID: 0018
Revises: 0017

* ``doses``: a graduate's record of each scheduled dose of a plan medication, taken or skipped
  (``POST /v1/graduates/{id}/doses``), idempotent by ``client_id``, one record per dose;
* ``checkins.took_medication_from_doses``: the engine read an unanswered ``took_medication`` as
  true because every dose of that day was marked taken before the check-in arrived;
* ``timezone_changes``: every zone a graduate reported (enrollment, each change), backfilled with
  one row per graduate: their current zone, in force since their enrollment;
* ``notifications.medication_id`` and ``scheduled_for``: the dose a medication reminder is about.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0018"
down_revision: str | tuple[str, ...] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doses",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("medication_id", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", aftercare.db.types.DateTimeUTC(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", aftercare.db.types.DateTimeUTC(), nullable=False),
        sa.Column("received_at", aftercare.db.types.DateTimeUTC(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("status IN ('taken', 'skipped')", name=op.f("ck_doses_status")),
        sa.ForeignKeyConstraint(
            ["graduate_id"], ["graduates.id"], name=op.f("fk_doses_graduate_id_graduates"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doses")),
        sa.UniqueConstraint("graduate_id", "client_id", name="uq_doses_graduate_client"),
        sa.UniqueConstraint("graduate_id", "medication_id", "scheduled_for", name="uq_doses_graduate_dose"),
    )
    op.create_index("ix_doses_graduate_id_local_date_id", "doses", ["graduate_id", "local_date", "id"])
    op.create_index("ix_doses_graduate_id_received_at_id", "doses", ["graduate_id", "received_at", "id"])
    op.create_table(
        "timezone_changes",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("effective_from", aftercare.db.types.DateTimeUTC(), nullable=False),
        sa.Column("reported_at", aftercare.db.types.DateTimeUTC(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["graduate_id"],
            ["graduates.id"],
            name=op.f("fk_timezone_changes_graduate_id_graduates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timezone_changes")),
    )
    op.create_index(
        "ix_timezone_changes_graduate_id_effective_from",
        "timezone_changes",
        ["graduate_id", "effective_from"],
    )
    # Each graduate's zone as of today, in force since enrollment: the history begins there. The
    # row's id is the graduate's (one row each, and both engines can copy a column).
    op.execute(
        "INSERT INTO timezone_changes (id, graduate_id, timezone, effective_from, reported_at) "
        "SELECT id, id, timezone, created_at, created_at FROM graduates"
    )
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(
            sa.Column("took_medication_from_doses", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("medication_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("scheduled_for", aftercare.db.types.DateTimeUTC(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("scheduled_for")
        batch.drop_column("medication_id")
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("took_medication_from_doses")
    op.drop_index("ix_timezone_changes_graduate_id_effective_from", table_name="timezone_changes")
    op.drop_table("timezone_changes")
    op.drop_index("ix_doses_graduate_id_received_at_id", table_name="doses")
    op.drop_index("ix_doses_graduate_id_local_date_id", table_name="doses")
    op.drop_table("doses")
