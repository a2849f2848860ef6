"""CHECK constraints: statuses, roles, kinds, severities and rules hold only their Literal's values

Revision ID: 0008
Revises: 0002, 0004, 0005, 0007

The models build these constraints from their Literal types (``aftercare/db/checks.py::one_of``).
The values are copied here, not imported, so this revision keeps meaning what it meant when written:
a value added to a type later comes with a revision that replaces that constraint.

It joins the slices' branches because its tables come from all of them. SQLite cannot add a CHECK
to a table, so there batch mode recreates each table; ``aftercare.db.migrate`` turns foreign keys
off around it, or dropping the old table would delete, by ``ON DELETE CASCADE``, the rows of every
table that refers to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | tuple[str, ...] | None = ("0002", "0004", "0005", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = ("graduate", "counselor", "supervisor")
_SEVERITIES = ("warning", "high", "critical")
_REMINDER_KINDS = (
    "checkin_prompt",
    "checkin_nudge",
    "therapy_reminder",
    "support_group_reminder",
    "medication_reminder",
)
# table -> column -> the values it may hold
_CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "users": {"role": _ROLES},
    "audit_events": {"actor_role": (*_ROLES, "system")},
    "graduates": {"status": ("active", "discharged")},
    "plan_versions": {"author_role": (*_ROLES, "system")},
    "alerts": {
        "rule": (
            "lapse",
            "safety",
            "craving_rising",
            "mood_falling",
            "support_dropoff",
            "medication_missed",
            "isolation",
            "triggers_without_coping",
            "silence",
            "combined",
        ),
        "severity": _SEVERITIES,
        "status": ("open", "acknowledged", "resolved"),
    },
    "alert_events": {
        "kind": ("opened", "raised", "reopened", "escalated", "acknowledged", "resolved"),
        "severity": _SEVERITIES,
    },
    "schedules": {
        "kind": (*_REMINDER_KINDS, "day_close"),
        "status": ("planned", "skipped_quiet_hours"),
    },
    "notifications": {
        "kind": (*_REMINDER_KINDS, "alert", "escalation"),
        "status": ("pending", "delivered", "failed", "no_subscription", "skipped_quiet_hours", "expired"),
    },
    "deliveries": {"status": ("pending", "delivered", "failed", "gone", "expired")},
}


def upgrade() -> None:
    for table, columns in _CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), sa.column(column).in_(values))


def downgrade() -> None:
    for table, columns in reversed(_CHECKS.items()):
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
