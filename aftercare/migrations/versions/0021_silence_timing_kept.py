"""silence timing kept: stored rules that chose their own silence timing keep it exactly

Revision ID: 0021
Revises: 0020

Issue 20 gave the silence rule ``usual_extra_days`` (default 1): a graduate who often misses
``warning_days`` days in a row is warned about a day later. A rules body stored before it has no
such field and would read the default, so a program that chose ``warning_days: 1`` (or any timing
other than the defaults' 2 and 4) would quietly stop being warned on the day it chose. Its stored
body gets ``usual_extra_days: 0``, which keeps the timing it set exactly. A body on the default
timing is left to the default, as every program on the defaults is: the habit-aware silence is
this release's default. A body that already names the field was written by code that knew it, and
is left alone.

Down: the field (and ``max_chance``, added with it) is taken out of the stored silence rule, which
the code before this revision refuses as unknown fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import aftercare.db.types

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The silence defaults before this revision, copied so the revision keeps meaning what it meant.
_DEFAULT_WARNING_DAYS, _DEFAULT_HIGH_DAYS = 2, 4
_NEW_FIELDS = ("usual_extra_days", "max_chance")

_rules = sa.table(
    "program_rules", sa.column("id", sa.Integer()), sa.column("body", aftercare.db.types.JSONDoc)
)


def _rewrite_silence(change: Callable[[dict[str, Any]], bool]) -> None:
    """Apply ``change`` to each stored body's silence rule (a dict, changed in place) and store it."""
    connection = op.get_bind()
    # JSONDoc decodes the body on both engines (JSON on SQLite, JSONB on PostgreSQL).
    for row in connection.execute(sa.select(_rules.c.id, _rules.c.body)).all():
        silence = ((row.body or {}).get("rules") or {}).get("silence")
        if isinstance(silence, dict) and change(silence):
            connection.execute(sa.update(_rules).where(_rules.c.id == row.id).values(body=row.body))


def _keep_chosen_timing(silence: dict[str, Any]) -> bool:
    if "usual_extra_days" in silence:
        return False
    chosen = (
        silence.get("warning_days", _DEFAULT_WARNING_DAYS),
        silence.get("high_days", _DEFAULT_HIGH_DAYS),
    )
    if chosen == (_DEFAULT_WARNING_DAYS, _DEFAULT_HIGH_DAYS):
        return False
    silence["usual_extra_days"] = 0
    return True


def _drop_new_fields(silence: dict[str, Any]) -> bool:
    found = [field for field in _NEW_FIELDS if field in silence]
    for field in found:
        del silence[field]
    return bool(found)


def upgrade() -> None:
    _rewrite_silence(_keep_chosen_timing)


def downgrade() -> None:
    _rewrite_silence(_drop_new_fields)
