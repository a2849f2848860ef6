"""Accounts and the secrets attached to them. Secrets are stored only as hashes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.auth.principal import Role
from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC, uuid7


class User(UUIDPrimaryKey, Base):
    """Anyone who signs in: staff (counselor, supervisor) and enrolled graduates."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", Role),)

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # Staff who opted in to alert e-mail (push/mail.py): alerts and escalations also go to ``email``.
    email_alerts: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Written into each access token (``gen``) and compared by the access guard on every request: a
    # password change or a sign-out everywhere raises it, so the access tokens issued before stop at
    # once instead of living out their minutes (auth/access.py::authorize).
    token_generation: Mapped[int] = mapped_column(Integer, server_default="0")


class RefreshToken(Base):
    """One issued refresh token. Tokens of one sign-in share a ``family_id``; presenting a token
    that was already rotated means it leaked, so the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    rotated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)


class EnrollmentCode(Base):
    """A single-use code a counselor hands a graduate to create their sign-in."""

    __tablename__ = "enrollment_codes"
    __table_args__ = (Index("ix_enrollment_codes_graduate", "graduate_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)


class StreamTicket(Base):
    """A single-use, 60-second ticket for ``EventSource``, which cannot send headers."""

    __tablename__ = "stream_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
