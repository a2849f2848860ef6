"""caseload: a current risk, the silence order, names to sort and search, re-admission

Revision ID: 0015
Revises: 0008

Adds to ``graduates``:

* ``last_assessed_level``: the latest day's assessment level (what ``risk_level`` used to hold), so
  ``risk_level`` can be the level of the worst active alert and fall back to it exactly;
* ``risk_order``: computed by the database from ``risk_level`` (critical 0 ... low 3);
* ``admitted_on``: the local day of enrollment (or of a re-admission), the silence rule's first day;
* ``silent_since``: the first local day without a check-in of the current run;
* ``name_key``: the display name folded for sorting and prefix search (``COLLATE "C"`` on
  PostgreSQL);
* one index per caseload sort, and one led by ``counselor_id`` for each;
* CHECK constraints on both risk levels.

The backfill computes local days and folded names in Python (time zones and Unicode are not the
same in both engines' SQL); ``risk_level`` is then recomputed from the active alerts with the
severity-to-level mapping copied here (warning -> moderate, high -> high, critical -> critical), so
this revision keeps meaning what it meant when written. SQLite recreates the table (batch mode),
with foreign keys off (``aftercare.db.migrate``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0015"
down_revision: str | tuple[str, ...] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEVELS = ("low", "moderate", "high", "critical")
_RISK_ORDER_SQL = "CASE risk_level WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'moderate' THEN 2 ELSE 3 END"
_SEVERITY_RANK = {"warning": 1, "high": 2, "critical": 3}
_LEVEL_OF_RANK = {1: "moderate", 2: "high", 3: "critical"}
_NAME_KEY_LENGTH = 200
_INDEXES = {
    "ix_graduates_risk_order_silent_since_id": ["risk_order", "silent_since", "id"],
    "ix_graduates_counselor_id_risk_order_silent_since_id": ["counselor_id", "risk_order", "silent_since", "id"],
    "ix_graduates_silent_since_id": ["silent_since", "id"],
    "ix_graduates_counselor_id_silent_since_id": ["counselor_id", "silent_since", "id"],
    "ix_graduates_open_alerts_id": ["open_alerts", "id"],
    "ix_graduates_counselor_id_open_alerts_id": ["counselor_id", "open_alerts", "id"],
    "ix_graduates_name_key_id": ["name_key", "id"],
    "ix_graduates_counselor_id_name_key_id": ["counselor_id", "name_key", "id"],
}


def _name_key_type() -> sa.types.TypeEngine[str]:
    return sa.String(length=_NAME_KEY_LENGTH).with_variant(
        sa.String(length=_NAME_KEY_LENGTH, collation="C"), "postgresql"
    )


def _name_key(display_name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", display_name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())[:_NAME_KEY_LENGTH]


def _silent_since(last_checkin_date: date | None, admitted_on: date) -> date:
    if last_checkin_date is None:
        return admitted_on
    return max(admitted_on, last_checkin_date + timedelta(days=1))


def upgrade() -> None:
    with op.batch_alter_table("graduates") as batch_op:
        batch_op.add_column(sa.Column("name_key", _name_key_type(), nullable=True))
        batch_op.add_column(sa.Column("admitted_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("silent_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("last_assessed_level", sa.String(length=16), nullable=True))

    graduates = sa.table(
        "graduates",
        sa.column("id", sa.Uuid()),
        sa.column("display_name", sa.String()),
        sa.column("timezone", sa.String()),
        sa.column("created_at", aftercare.db.types.DateTimeUTC(timezone=True)),
        sa.column("last_checkin_date", sa.Date()),
        sa.column("risk_level", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("admitted_on", sa.Date()),
        sa.column("silent_since", sa.Date()),
        sa.column("last_assessed_level", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            graduates.c.id,
            graduates.c.display_name,
            graduates.c.timezone,
            graduates.c.created_at,
            graduates.c.last_checkin_date,
        )
    ).all()
    updates = []
    for row in rows:
        admitted_on = row.created_at.astimezone(ZoneInfo(row.timezone)).date()
        updates.append(
            {
                "graduate_id": row.id,
                "name_key": _name_key(row.display_name),
                "admitted_on": admitted_on,
                "silent_since": _silent_since(row.last_checkin_date, admitted_on),
            }
        )
    if updates:
        connection.execute(
            graduates.update()
            .where(graduates.c.id == sa.bindparam("graduate_id"))
            .values(
                name_key=sa.bindparam("name_key"),
                admitted_on=sa.bindparam("admitted_on"),
                silent_since=sa.bindparam("silent_since"),
            ),
            updates,
        )
    # Until now risk_level was the latest assessment's level; from now on it is the worst active
    # alert's, falling back to that.
    op.execute(graduates.update().values(last_assessed_level=graduates.c.risk_level))
    alerts = sa.table("alerts", sa.column("graduate_id"), sa.column("severity"), sa.column("status"))
    worst = (
        sa.select(sa.func.max(sa.case(_SEVERITY_RANK, value=alerts.c.severity)))
        .where(alerts.c.graduate_id == graduates.c.id, alerts.c.status.in_(("open", "acknowledged")))
        .scalar_subquery()
    )
    op.execute(
        graduates.update().values(
            risk_level=sa.case(_LEVEL_OF_RANK, value=worst, else_=graduates.c.last_assessed_level)
        )
    )

    with op.batch_alter_table("graduates") as batch_op:
        for name in ("admitted_on", "silent_since"):
            batch_op.alter_column(name, existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("name_key", existing_type=_name_key_type(), nullable=False)
        batch_op.alter_column("last_assessed_level", existing_type=sa.String(length=16), nullable=False)
        batch_op.add_column(
            sa.Column("risk_order", sa.SmallInteger(), sa.Computed(_RISK_ORDER_SQL, persisted=True), nullable=False)
        )
        for column in ("risk_level", "last_assessed_level"):
            batch_op.create_check_constraint(op.f(f"ck_graduates_{column}"), sa.column(column).in_(_LEVELS))
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    # risk_level goes back to meaning the latest assessment's level.
    graduates = sa.table("graduates", sa.column("risk_level"), sa.column("last_assessed_level"))
    op.execute(graduates.update().values(risk_level=graduates.c.last_assessed_level))
    with op.batch_alter_table("graduates") as batch_op:
        for name in reversed(_INDEXES):
            batch_op.drop_index(name)
        for column in ("last_assessed_level", "risk_level"):
            batch_op.drop_constraint(op.f(f"ck_graduates_{column}"), type_="check")
        for column in ("risk_order", "last_assessed_level", "silent_since", "admitted_on", "name_key"):
            batch_op.drop_column(column)
