"""Staff availability: the periods a staff member is away and who covers for them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.types import DateTimeUTC


class StaffAway(UUIDPrimaryKey, Base):
    """``staff_id`` is away from ``starts_at`` (inclusive) until ``ends_at`` (exclusive), and
    ``covering_staff_id`` stands in: new alerts of the caseload go to them, and they reach the
    caseload (``auth/access.py``) for exactly the period. A staff member's periods never overlap
    (``staff/service.py::set_away`` checks under the staff member's row lock), so at most one holds
    at any instant."""

    __tablename__ = "staff_away"
    __table_args__ = (
        # A staff member's periods in order: the overlap check, their list, "who covers X now".
        Index("ix_staff_away_staff_id_starts_at", "staff_id", "starts_at"),
        # Whom a staff member covers now: the reach rule for lists (caseload, feed).
        Index("ix_staff_away_covering_staff_id_ends_at", "covering_staff_id", "ends_at"),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    ends_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    covering_staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    created_by: Mapped[uuid.UUID] = mapped_column()
