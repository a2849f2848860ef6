"""Requests to erase a graduate's data, and the tombstone each erasure leaves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC
from aftercare.personal_data.schemas import DeletionRequestStatus, ErasureReason


class DeletionRequest(UUIDPrimaryKey, Base):
    """A graduate asked for their data to be erased (``POST /v1/me/deletion-request``), or a
    supervisor erased it without being asked; after erasure the row is the tombstone: who erased,
    when, why (a reason code, never free text), and nothing about the person."""

    __tablename__ = "deletion_requests"
    __table_args__ = (
        # GET /v1/deletion-requests: newest first, keyset on (requested_at, id), all or by status.
        Index("ix_deletion_requests_requested_at_id", "requested_at", "id"),
        Index("ix_deletion_requests_status_requested_at_id", "status", "requested_at", "id"),
        Index("ix_deletion_requests_graduate_id", "graduate_id"),
        one_of("status", DeletionRequestStatus),
        one_of("erasure_reason", ErasureReason),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    status: Mapped[DeletionRequestStatus] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # False: a supervisor erased without a request from the graduate (``requested_at`` is then the
    # erasure's instant).
    requested_by_graduate: Mapped[bool] = mapped_column()
    # The graduate's own words: shown to supervisors until the erasure removes them.
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    erased_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    erasure_reason: Mapped[ErasureReason | None] = mapped_column(String(32), nullable=True)
    kept_clinical_answers: Mapped[bool | None] = mapped_column(nullable=True)
