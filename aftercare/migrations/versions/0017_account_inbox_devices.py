"""account lifecycle, inbox read state, devices

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 01:40:00

- ``users.token_generation``: written into every access token (``gen``); a password change and a
  sign-out everywhere raise it, so access tokens issued before stop at once, not at expiry. Tokens
  from before this revision carry no ``gen`` and are read as generation 0, the value every account
  starts at here: nobody is signed out by the upgrade.
- ``notifications.read_at`` (null: unread) and the partial index
  ``ix_notifications_unread_user_id_created_at_id``: a user's unread notifications only, so
  ``GET /v1/me``'s ``unread_count`` and ``?unread=true`` read the unread rows and never the history.
- ``push_subscriptions.last_success_at`` / ``last_failure_at``: set by the delivery code when a push
  service accepts or refuses a push to that device (``GET /v1/push/subscriptions``). Null on the
  existing rows: their history before this revision is not reconstructed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNREAD = "read_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("read_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=True))
    op.create_index(
        "ix_notifications_unread_user_id_created_at_id",
        "notifications",
        ["user_id", "created_at", "id"],
        sqlite_where=sa.text(_UNREAD),
        postgresql_where=sa.text(_UNREAD),
    )
    with op.batch_alter_table("push_subscriptions") as batch_op:
        batch_op.add_column(sa.Column("last_success_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_failure_at", aftercare.db.types.DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("push_subscriptions") as batch_op:
        batch_op.drop_column("last_failure_at")
        batch_op.drop_column("last_success_at")
    op.drop_index("ix_notifications_unread_user_id_created_at_id", table_name="notifications")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("read_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("token_generation")
