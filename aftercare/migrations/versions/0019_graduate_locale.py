"""graduate locale: the language of everything a graduate is sent or shown

Revision ID: 0019
Revises: 0018

Adds ``graduates.locale`` (``en`` or ``es``, a CHECK constraint), ``en`` for everyone enrolled so
far: until now every text they received was English. On SQLite the column and its check are one
``ALTER TABLE ... ADD COLUMN`` instead of batch mode: recreating ``graduates`` would copy into
``risk_order``, a generated column (0015), which SQLite refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | tuple[str, ...] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_LOCALES = ("en", "es")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE graduates ADD COLUMN locale VARCHAR(16) DEFAULT 'en' NOT NULL "
            "CONSTRAINT ck_graduates_locale CHECK (locale IN ('en', 'es'))"
        )
        return
    op.add_column("graduates", sa.Column("locale", sa.String(length=16), server_default="en", nullable=False))
    op.create_check_constraint(op.f("ck_graduates_locale"), "graduates", sa.column("locale").in_(_LOCALES))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_graduates_locale"), "graduates", type_="check")
    # SQLite drops a column with the check that is its own (3.35+).
    op.drop_column("graduates", "locale")
