"""audit log indexes: GET /v1/audit newest first, whole or by actor

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:30:00

``GET /v1/audit`` pages the log on (at, id) newest first, optionally for one actor or one graduate.
The graduate filter has ``ix_audit_events_graduate_id_at`` since 0001; the whole log and one actor's
acts would otherwise be read in full and sorted, and the log only grows.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
# Written after 0008 beside 0009-0012; chained after the head main had when it was merged (0014).
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_at_id", "audit_events", ["at", "id"])
    op.create_index("ix_audit_events_actor_id_at_id", "audit_events", ["actor_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_id_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_at_id", table_name="audit_events")
