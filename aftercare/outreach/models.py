"""The outreach log as stored: one row per attempt to reach a graduate, with the fingerprint of the
body that created it, so a retry of the same ``client_id`` finds its twin."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC
from aftercare.outreach.schemas import OutreachMethod, OutreachOutcome


class Outreach(UUIDPrimaryKey, Base):
    __tablename__ = "outreach"  # a mass noun: one table of outreach records
    __table_args__ = (
        UniqueConstraint("graduate_id", "client_id", name="uq_outreach_graduate_client"),
        # GET /v1/graduates/{id}/outreach and the timeline: newest first, keyset on (occurred_at, id).
        Index("ix_outreach_graduate_id_occurred_at_id", "graduate_id", "occurred_at", "id"),
        # The alert detail's outreach records.
        Index("ix_outreach_alert_id", "alert_id"),
        one_of("method", OutreachMethod),
        one_of("outcome", OutreachOutcome),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    # SET NULL: the log keeps what was done even if its alert were ever deleted.
    alert_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column()
    method: Mapped[OutreachMethod] = mapped_column(String(16))
    outcome: Mapped[OutreachOutcome] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    recorded_by: Mapped[uuid.UUID] = mapped_column()
    acknowledged_alert: Mapped[bool] = mapped_column(Boolean)
    # Idempotency: a hash of the decoded create body and the alert it was posted to.
    fingerprint: Mapped[str] = mapped_column(String(64))
