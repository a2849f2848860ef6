"""coverage: away periods and covers, the on-call rota, notification decisions, e-mail deliveries

Revision ID: 0014
Revises: 0010

- ``staff_away``: a staff member away from one instant until another, and who covers for them.
- ``on_call_rota``: the program's rota, one versioned JSON row like ``program_rules``.
- ``users.email_alerts``: staff who opted in to alert e-mail.
- ``alerts.escalation_round`` (a critical alert's repeats of the policy) and ``alerts.recipients``
  (who the level it stands at notified; null on alerts from before, read as nobody).
- ``alert_events``: the kinds ``escalated`` is joined by ``repeated``, ``notified`` and ``skipped``;
  the decision's ``target``, ``recipient_id``, ``channel`` and ``reason``, each held to its values.
- ``deliveries.channel``: ``push`` (every delivery so far) or ``email``.

As in 0008 and 0009, the values are copied here, not imported from the Literal types; SQLite's batch
mode recreates ``alert_events``, ``alerts``, ``users`` and ``deliveries`` (``aftercare.db.migrate``
turns foreign keys off around it). Going down deletes the decision events and the e-mail deliveries:
the older schema has neither.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import aftercare.db.types

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_EVENT_KINDS_0009 = ("opened", "raised", "refreshed", "reopened", "escalated", "acknowledged", "resolved")
_EVENT_KINDS = (
    "opened",
    "raised",
    "refreshed",
    "reopened",
    "escalated",
    "repeated",
    "notified",
    "skipped",
    "acknowledged",
    "resolved",
)
_TARGETS = ("assigned", "on_call", "supervisors", "staff")
_CHANNELS = ("push", "email")
_REASONS = (
    "no_counselor",
    "inactive",
    "away_without_cover",
    "unreachable",
    "no_one_on_call",
    "no_supervisors",
    "covering",
)


def upgrade() -> None:
    instant = aftercare.db.types.DateTimeUTC(timezone=True)
    op.create_table(
        "staff_away",
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", instant, nullable=False),
        sa.Column("ends_at", instant, nullable=False),
        sa.Column("covering_staff_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", instant, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["users.id"], name=op.f("fk_staff_away_staff_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["covering_staff_id"],
            ["users.id"],
            name=op.f("fk_staff_away_covering_staff_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_away")),
    )
    op.create_index("ix_staff_away_staff_id_starts_at", "staff_away", ["staff_id", "starts_at"], unique=False)
    op.create_index(
        "ix_staff_away_covering_staff_id_ends_at", "staff_away", ["covering_staff_id", "ends_at"], unique=False
    )
    op.create_table(
        "on_call_rota",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("updated_at", instant, nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_rota")),
    )

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email_alerts", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("escalation_round", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("recipients", _JSON, nullable=True))

    with op.batch_alter_table("alert_events") as batch_op:
        batch_op.add_column(sa.Column("target", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("recipient_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=24), nullable=True))
        batch_op.drop_constraint(op.f("ck_alert_events_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_alert_events_kind"), sa.column("kind").in_(_EVENT_KINDS))
        batch_op.create_check_constraint(op.f("ck_alert_events_target"), sa.column("target").in_(_TARGETS))
        batch_op.create_check_constraint(op.f("ck_alert_events_channel"), sa.column("channel").in_(_CHANNELS))
        batch_op.create_check_constraint(op.f("ck_alert_events_reason"), sa.column("reason").in_(_REASONS))

    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), server_default="push", nullable=False))
        batch_op.create_check_constraint(op.f("ck_deliveries_channel"), sa.column("channel").in_(_CHANNELS))


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE channel = 'email'")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_channel"), type_="check")
        batch_op.drop_column("channel")

    op.execute("DELETE FROM alert_events WHERE kind IN ('repeated', 'notified', 'skipped')")
    with op.batch_alter_table("alert_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_events_reason"), type_="check")
        batch_op.drop_constraint(op.f("ck_alert_events_channel"), type_="check")
        batch_op.drop_constraint(op.f("ck_alert_events_target"), type_="check")
        batch_op.drop_constraint(op.f("ck_alert_events_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alert_events_kind"), sa.column("kind").in_(_EVENT_KINDS_0009)
        )
        batch_op.drop_column("reason")
        batch_op.drop_column("channel")
        batch_op.drop_column("recipient_id")
        batch_op.drop_column("target")

    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("recipients")
        batch_op.drop_column("escalation_round")

    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email_alerts")

    op.drop_table("on_call_rota")
    op.drop_index("ix_staff_away_covering_staff_id_ends_at", table_name="staff_away")
    op.drop_index("ix_staff_away_staff_id_starts_at", table_name="staff_away")
    op.drop_table("staff_away")
