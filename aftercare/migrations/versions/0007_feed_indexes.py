"""feed indexes: the alert feed filtered by status, in feed order

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-25 15:30:00

``GET /v1/alerts?status=open`` (with or without ``min_severity``) orders by (opened_at, id) newest
first; without an index led by status, PostgreSQL and SQLite walk ``ix_alerts_opened_at_id`` and
discard every resolved alert on the way, so a page's cost grew with the table (bench/feed_bench.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_status_opened_at_id", "alerts", ["status", "opened_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_status_opened_at_id", table_name="alerts")
