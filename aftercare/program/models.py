"""The program's rule configuration and on-call rota as stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base
from aftercare.db.types import DateTimeUTC, JSONDoc


class ProgramRulesRow(Base):
    """The program's warning-sign thresholds and escalation policy: one row, versioned."""

    __tablename__ = "program_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class OnCallRotaRow(Base):
    """The program's on-call rota (``rules/rota.py::OnCallRota`` as JSON): one row, versioned."""

    __tablename__ = "on_call_rota"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
