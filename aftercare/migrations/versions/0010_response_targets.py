"""response targets: every alert's respond_by and the start of its response clock

Revision ID: 0010
Revises: 0008

An alert now stores ``response_started_at`` (its opening, or the latest raise or re-open) and
``respond_by`` (the severity's response target from then, ``aftercare/rules/targets.py``), both
NOT NULL, and the feed's ``?overdue=true`` gets a partial index on ``respond_by`` over open alerts.

Existing alerts are filled in as the code before this revision saw them: the clock started at the
latest ``opened``/``raised``/``reopened`` event (the opening if there is none), and the target was
the escalation wait of the alert's severity in the stored rules (``escalation.<severity>_minutes``;
15, 240 and 1440 minutes when absent). An open alert still at level 0 keeps exactly the
``escalate_at`` that wait gave it. The values are copied here, not imported, so this revision keeps
meaning what it meant when written.

SQLite cannot make a column NOT NULL in place, so batch mode recreates the table there (with
foreign keys off, as ``aftercare.db.migrate`` arranges for 0008).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_MINUTES = {"critical": 15, "high": 240, "warning": 1440}
_CLOCK_STARTS = ("opened", "raised", "reopened")
_CHUNK = 1000

_alerts = sa.table(
    "alerts",
    sa.column("id", sa.Uuid()),
    sa.column("severity", sa.String()),
    sa.column("opened_at", aftercare.db.types.DateTimeUTC()),
    sa.column("escalation_level", sa.Integer()),
    sa.column("escalate_at", aftercare.db.types.DateTimeUTC()),
    sa.column("response_started_at", aftercare.db.types.DateTimeUTC()),
    sa.column("respond_by", aftercare.db.types.DateTimeUTC()),
)
_events = sa.table(
    "alert_events",
    sa.column("alert_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("at", aftercare.db.types.DateTimeUTC()),
)
_rules = sa.table("program_rules", sa.column("body", sa.JSON()))


def _old_minutes(connection: sa.Connection) -> dict[str, int]:
    body: Any = connection.execute(sa.select(_rules.c.body)).scalar()
    if isinstance(body, str):
        body = json.loads(body)
    escalation = (body or {}).get("escalation") or {}
    return {
        severity: int(escalation.get(f"{severity}_minutes", default))
        for severity, default in _OLD_MINUTES.items()
    }


def _backfill(connection: sa.Connection) -> None:
    minutes = _old_minutes(connection)
    started = (
        sa.select(_events.c.alert_id, sa.func.max(_events.c.at).label("at"))
        .where(_events.c.kind.in_(_CLOCK_STARTS))
        .group_by(_events.c.alert_id)
        .subquery()
    )
    rows = connection.execute(
        sa.select(
            _alerts.c.id,
            _alerts.c.severity,
            _alerts.c.opened_at,
            _alerts.c.escalation_level,
            _alerts.c.escalate_at,
            started.c.at.label("started_at"),
        ).select_from(_alerts.outerjoin(started, started.c.alert_id == _alerts.c.id))
    ).all()
    update = (
        sa.update(_alerts)
        .where(_alerts.c.id == sa.bindparam("alert_id"))
        .values(response_started_at=sa.bindparam("started"), respond_by=sa.bindparam("due"))
    )
    values = []
    for row in rows:
        started_at = row.started_at or row.opened_at
        if row.escalation_level == 0 and row.escalate_at is not None:
            due = row.escalate_at
        else:
            due = started_at + timedelta(minutes=minutes.get(row.severity, _OLD_MINUTES["warning"]))
        values.append({"alert_id": row.id, "started": started_at, "due": due})
    for offset in range(0, len(values), _CHUNK):
        connection.execute(update, values[offset : offset + _CHUNK])


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(
            sa.Column("response_started_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("respond_by", aftercare.db.types.DateTimeUTC(timezone=True), nullable=True)
        )
    _backfill(op.get_bind())
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.alter_column(
            "response_started_at", existing_type=aftercare.db.types.DateTimeUTC(timezone=True), nullable=False
        )
        batch_op.alter_column(
            "respond_by", existing_type=aftercare.db.types.DateTimeUTC(timezone=True), nullable=False
        )
        batch_op.create_index(
            "ix_alerts_open_respond_by",
            ["respond_by"],
            unique=False,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_index("ix_alerts_open_respond_by")
        batch_op.drop_column("respond_by")
        batch_op.drop_column("response_started_at")
