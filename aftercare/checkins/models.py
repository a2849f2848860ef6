"""Check-ins as stored: answers, the assessment made of them, and the stored response a replay of
the same ``client_id`` returns."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.types import DateTimeUTC, JSONDoc


class Checkin(UUIDPrimaryKey, Base):
    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("graduate_id", "client_id", name="uq_checkins_graduate_client"),
        # One check-in per local day; also the engine's window read (graduate, day range).
        UniqueConstraint("graduate_id", "local_date", name="uq_checkins_graduate_day"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column()
    local_date: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    version: Mapped[int] = mapped_column(Integer, default=1)
    mood: Mapped[int] = mapped_column(Integer)
    craving: Mapped[int] = mapped_column(Integer)
    stress: Mapped[int] = mapped_column(Integer)
    sleep_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    used: Mapped[bool] = mapped_column(Boolean)
    attended_support: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    took_medication: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    took_medication_from_doses: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """``took_medication`` was left unanswered and the day's doses were all marked taken before the
    check-in arrived, so the engine read it as true (``rules.doses.with_doses``); the answer stays null."""
    isolating: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    triggers: Mapped[list[str]] = mapped_column(JSONDoc)
    coping_used: Mapped[list[str]] = mapped_column(JSONDoc)
    safety_concern: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    risk_score: Mapped[int] = mapped_column(Integer)
    risk_level: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSONDoc)
    # The engine's running state before this check-in, so an amendment re-assesses exactly.
    aggregates_before: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    # Idempotency: a hash of the decoded create body, and the 201 body a replay returns.
    fingerprint: Mapped[str] = mapped_column(String(64))
    stored_response: Mapped[bytes] = mapped_column(LargeBinary)


class CheckinVersion(UUIDPrimaryKey, Base):
    """An amendment keeps the answers it replaced: the timeline shows both."""

    __tablename__ = "checkin_versions"
    __table_args__ = (Index("ix_checkin_versions_graduate_id_at", "graduate_id", "amended_at"),)

    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"))
    graduate_id: Mapped[uuid.UUID] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)
    local_date: Mapped[date] = mapped_column(Date)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    amended_at: Mapped[datetime] = mapped_column(DateTimeUTC())


class HelpRequest(UUIDPrimaryKey, Base):
    __tablename__ = "help_requests"
    __table_args__ = (
        UniqueConstraint("graduate_id", "client_id", name="uq_help_requests_graduate_client"),
        Index("ix_help_requests_graduate_id_at", "graduate_id", "received_at"),
        # The alert detail: the help requests that raised (or re-opened) an alert, with their words.
        Index("ix_help_requests_alert_id", "alert_id"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column()
    message: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # The safety alert the request opened, raised or re-opened (its answer's ``alert_id``).
    alert_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True
    )
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    fingerprint: Mapped[str] = mapped_column(String(64))
    stored_response: Mapped[bytes] = mapped_column(LargeBinary)


class MissedDay(Base):
    """A local day whose check-in window closed with no check-in (the timeline's "missed day")."""

    __tablename__ = "missed_days"

    graduate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graduates.id", ondelete="CASCADE"), primary_key=True
    )
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(DateTimeUTC())
