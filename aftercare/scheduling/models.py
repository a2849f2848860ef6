"""Schedule rows: for each graduate and stream only the next occurrence, and the sweeper's leases.

One row per (graduate, stream) holds what the pure planner said comes next (DESIGN, "Scheduling keeps
the next occurrence, not a calendar"); the sweeper claims rows whose ``next_due_at`` has come with one
conditional UPDATE, acts, and advances the row. ``leases`` holds the SQLite leader lease: SQLite has
no ``SKIP LOCKED``, so only the process holding it sweeps there.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC
from aftercare.scheduling.planner import OccurrenceKind, OccurrenceStatus

# A row stands for the planner's next occurrence of a stream, or for the close of the graduate's day
# (``service.DAY_CLOSE_STREAM``: the silence check).
ScheduleKind = Literal[OccurrenceKind, "day_close"]


class Schedule(UUIDPrimaryKey, Base):
    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("graduate_id", "stream"),
        # Used by the sweeper's claim (``flows.sweep._claim``): cost grows with due rows, not graduates.
        Index("ix_schedules_next_due_at", "next_due_at"),
        one_of("kind", ScheduleKind),
        one_of("status", OccurrenceStatus),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(160))
    """``checkin_prompt``, ``checkin_nudge``, ``day_close`` or ``<kind>_reminder:<item_id>:<minutes>``."""
    kind: Mapped[ScheduleKind] = mapped_column(String(32))
    next_due_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    """When the sweeper acts: ``planned_at`` after quiet-hour deferral, or an hour ahead after a failure."""
    planned_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    occurrence_key: Mapped[str] = mapped_column(String(200))
    local_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(120))
    item_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    event_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    deadline: Mapped[datetime] = mapped_column(DateTimeUTC())
    status: Mapped[OccurrenceStatus] = mapped_column(String(24))
    """``planned`` or ``skipped_quiet_hours`` (recorded in the inbox, not pushed)."""
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())


class Lease(Base):
    """A named lease: whoever holds an unexpired one may do the named work."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime] = mapped_column(DateTimeUTC())
