"""Dose records as stored: one row per dose of a plan medication the graduate marked.

Kept small for the data-rights helpers (export, erase): no free text, the graduate's id with
``ON DELETE CASCADE``, and the medication only by its plan id.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC
from aftercare.doses.schemas import DoseStatus


class Dose(UUIDPrimaryKey, Base):
    __tablename__ = "doses"
    __table_args__ = (
        UniqueConstraint("graduate_id", "client_id", name="uq_doses_graduate_client"),
        # One record per dose: a second one for the same dose is a 409 naming the first.
        UniqueConstraint("graduate_id", "medication_id", "scheduled_for", name="uq_doses_graduate_dose"),
        # The list's pages (newest day first) and the check-in's read of a day's doses.
        Index("ix_doses_graduate_id_local_date_id", "graduate_id", "local_date", "id"),
        # The timeline's page of doses, newest arrival first.
        Index("ix_doses_graduate_id_received_at_id", "graduate_id", "received_at", "id"),
        one_of("status", DoseStatus),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column()
    medication_id: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(DateTimeUTC())
    local_date: Mapped[date] = mapped_column(Date)
    """The dose's local day: ``scheduled_for`` in the zone in force at that instant."""
    status: Mapped[DoseStatus] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTimeUTC())
    """When the graduate says they took (or skipped) it; the arrival when they did not say."""
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    fingerprint: Mapped[str] = mapped_column(String(64))
    """A hash of the decoded create body: a replay of ``client_id`` must carry the same one."""
