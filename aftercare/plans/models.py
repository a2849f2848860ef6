"""A graduate's current plan and every version it ever had.

``plans`` holds the current version (one row per graduate, compare-and-set on ``version``);
``plan_versions`` keeps each version whole, so nothing is ever lost on update. ``known_ids`` on the
current row accumulates every trigger and coping-skill id any version has used: a check-in written on
a phone that was offline while the plan changed still refers to valid ids, and checking that costs one
primary-key read instead of a scan of the history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.auth.principal import ActorRole
from aftercare.db.base import Base
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC, JSONDoc


class Plan(Base):
    __tablename__ = "plans"

    graduate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graduates.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    # {"trigger_ids": [...], "coping_skill_ids": [...]}: every id of every version, sorted.
    known_ids: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (one_of("author_role", ActorRole),)

    # The primary key is the contract's unique (graduate_id, version); it also serves the history
    # list, newest first.
    graduate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graduates.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    author_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    author_role: Mapped[ActorRole] = mapped_column(String(16))
    changed_sections: Mapped[list[str]] = mapped_column(JSONDoc)
