"""The append-only audit trail: who read or changed which graduate's record, never the data."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.auth.principal import ActorRole
from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC


class AuditEvent(UUIDPrimaryKey, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # GET /v1/audit: newest first (at, id), whole log or by actor or graduate (audit.service.list_events).
        Index("ix_audit_events_graduate_id_at", "graduate_id", "at"),
        Index("ix_audit_events_at_id", "at", "id"),
        Index("ix_audit_events_actor_id_at_id", "actor_id", "at", "id"),
        one_of("actor_role", ActorRole),
    )

    at: Mapped[datetime] = mapped_column(DateTimeUTC())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    actor_role: Mapped[ActorRole] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # read | create | update | delete
    resource: Mapped[str] = mapped_column(String(64))  # e.g. "plan", "checkins", "graduate"
    graduate_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
