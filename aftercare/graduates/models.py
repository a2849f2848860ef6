"""A graduate in aftercare: profile, schedule settings, and the running state the engine keeps."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC, JSONDoc
from aftercare.graduates.schemas import GraduateStatus


class Graduate(UUIDPrimaryKey, Base):
    __tablename__ = "graduates"
    __table_args__ = (
        # The caseload list: a counselor's graduates in creation order (keyset on id).
        Index("ix_graduates_counselor_id_id", "counselor_id", "id"),
        one_of("status", GraduateStatus),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    counselor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    checkin_time: Mapped[str] = mapped_column(String(5), default="19:00")
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    status: Mapped[GraduateStatus] = mapped_column(String(16), default="active")
    discharge_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # Running state for the warning-sign engine, so a check-in never scans the whole history.
    aggregates: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    last_checkin_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    streak_days: Mapped[int] = mapped_column(Integer, default=0)
    risk_level: Mapped[str] = mapped_column(String(16), default="low")
    # Kept by the alert service in the same transaction as each alert change (caseload list).
    open_alerts: Mapped[int] = mapped_column(Integer, default=0)
