"""outreach log; alert events name their check-in and record refreshes; help requests name their alert

Revision ID: 0009
Revises: 0008

- ``outreach``: what staff did to reach a graduate, with or without an alert (``aftercare/outreach/``).
- ``alert_events``: a ``refreshed`` kind (a new sign of the same rule that changed only reasons,
  evidence and last_seen_at wrote no event before, so an alert's story lost the check-ins that kept it
  going), ``checkin_id`` (the check-in behind an event; events written before this revision have none)
  and an index on (alert_id, id) for one alert's story.
- ``help_requests.alert_id``: the alert a help request opened, raised or re-opened, filled in for the
  requests already stored from the answer each got (its ``alert_id``).
- a partial index on ``notifications.ref_id`` for the pushes about one alert.

As in 0008, values are copied here, not imported from the Literal types, and SQLite's batch mode
recreates ``alert_events`` and ``help_requests`` (``aftercare.db.migrate`` turns foreign keys off
around it). Going down deletes the ``refreshed`` events: the older schema has no such kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0009"
down_revision: str | tuple[str, ...] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHODS = ("call", "text", "video", "in_person", "voicemail", "other")
_OUTCOMES = ("reached", "no_answer", "left_message", "declined", "referred", "other")
_EVENT_KINDS_0008 = ("opened", "raised", "reopened", "escalated", "acknowledged", "resolved")
_EVENT_KINDS = ("opened", "raised", "refreshed", "reopened", "escalated", "acknowledged", "resolved")
_ABOUT_AN_ALERT = "kind IN ('alert', 'escalation')"

# The answer stored with each help request is its HelpResult as JSON; its alert_id names the alert.
# (A UUID is 32 hex digits on SQLite, the JSON spells it with dashes.)
_LINK_HELP_REQUESTS = {
    "postgresql": """
        UPDATE help_requests SET alert_id = alerts.id FROM alerts
        WHERE alerts.id = (convert_from(help_requests.stored_response, 'UTF8')::jsonb ->> 'alert_id')::uuid
    """,
    "sqlite": """
        UPDATE help_requests SET alert_id = (
            SELECT alerts.id FROM alerts
            WHERE alerts.id = replace(
                json_extract(CAST(help_requests.stored_response AS TEXT), '$.alert_id'), '-', ''
            )
        )
    """,
}


def upgrade() -> None:
    instant = aftercare.db.types.DateTimeUTC(timezone=True)
    op.create_table(
        "outreach",
        sa.Column("graduate_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("occurred_at", instant, nullable=False),
        sa.Column("recorded_at", instant, nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("acknowledged_alert", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(sa.column("method").in_(_METHODS), name=op.f("ck_outreach_method")),
        sa.CheckConstraint(sa.column("outcome").in_(_OUTCOMES), name=op.f("ck_outreach_outcome")),
        sa.ForeignKeyConstraint(
            ["graduate_id"],
            ["graduates.id"],
            name=op.f("fk_outreach_graduate_id_graduates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_outreach_alert_id_alerts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach")),
        sa.UniqueConstraint("graduate_id", "client_id", name="uq_outreach_graduate_client"),
    )
    # A graduate's outreach newest first (the list and the timeline); one alert's outreach (its detail).
    op.create_index(
        "ix_outreach_graduate_id_occurred_at_id",
        "outreach",
        ["graduate_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index("ix_outreach_alert_id", "outreach", ["alert_id"], unique=False)

    with op.batch_alter_table("alert_events") as batch_op:
        batch_op.add_column(sa.Column("checkin_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint(op.f("ck_alert_events_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_alert_events_kind"), sa.column("kind").in_(_EVENT_KINDS))
        batch_op.create_index("ix_alert_events_alert_id_id", ["alert_id", "id"], unique=False)

    with op.batch_alter_table("help_requests") as batch_op:
        batch_op.add_column(sa.Column("alert_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_help_requests_alert_id_alerts"), "alerts", ["alert_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_help_requests_alert_id", ["alert_id"], unique=False)
    op.execute(_LINK_HELP_REQUESTS[op.get_bind().dialect.name])

    op.create_index(
        "ix_notifications_alert_ref_id",
        "notifications",
        ["ref_id"],
        unique=False,
        sqlite_where=sa.text(_ABOUT_AN_ALERT),
        postgresql_where=sa.text(_ABOUT_AN_ALERT),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_alert_ref_id", table_name="notifications")

    with op.batch_alter_table("help_requests") as batch_op:
        batch_op.drop_index("ix_help_requests_alert_id")
        batch_op.drop_constraint(op.f("fk_help_requests_alert_id_alerts"), type_="foreignkey")
        batch_op.drop_column("alert_id")

    op.execute("DELETE FROM alert_events WHERE kind = 'refreshed'")
    with op.batch_alter_table("alert_events") as batch_op:
        batch_op.drop_index("ix_alert_events_alert_id_id")
        batch_op.drop_constraint(op.f("ck_alert_events_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_alert_events_kind"), sa.column("kind").in_(_EVENT_KINDS_0008)
        )
        batch_op.drop_column("checkin_id")

    op.drop_index("ix_outreach_alert_id", table_name="outreach")
    op.drop_index("ix_outreach_graduate_id_occurred_at_id", table_name="outreach")
    op.drop_table("outreach")
