"""Push subscriptions, the inbox, and the delivery outbox.

A ``Notification`` is the record (the recipient's inbox holds it whether or not any push arrived);
each ``Delivery`` is one notification on its way to one subscription (or, by e-mail, to the
recipient's address), claimed by a sweeper with a
lease; each ``DeliveryAttempt`` is written before a POST and completed after it, so a worker killed
mid-send leaves an attempt with outcome ``sending`` behind instead of nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import get_args

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC
from aftercare.push.schemas import Channel, DeliveryStatus, NotificationKind, NotificationStatus

KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)
# The pushes about an alert (``ref_id`` is the alert's id). Written out as SQL text because a partial
# index serves only a query that repeats its predicate verbatim (SQLite compares the terms, and a
# bound parameter matches no literal): the index below and ``service.notifications_about`` share it.
ABOUT_AN_ALERT = "kind IN ('alert', 'escalation')"
# A notification nobody has read yet; the predicate of the unread index, repeated by its queries.
UNREAD = "read_at IS NULL"


class PushSubscription(UUIDPrimaryKey, Base):
    """One browser or device that accepted push for a user (a user may have several)."""

    __tablename__ = "push_subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    expiration_time: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # When a push service last accepted (2xx) or refused (any other answer, or none) a push to this
    # device; kept by push/service.py::record_results for the caller's device list.
    last_success_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)


class Notification(UUIDPrimaryKey, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # The inbox: a user's notifications newest first, keyset on (created_at, id).
        Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
        # The alert detail: the pushes about one alert (push/service.py::notifications_about). Partial:
        # prompts and reminders, most of the table, have no use for it.
        Index(
            "ix_notifications_alert_ref_id",
            "ref_id",
            sqlite_where=text(ABOUT_AN_ALERT),
            postgresql_where=text(ABOUT_AN_ALERT),
        ),
        # Unread notifications only: GET /v1/me's unread_count and the inbox's ?unread=true
        # (push/service.py::unread_count, list_notifications) read these rows, never the read history.
        Index(
            "ix_notifications_unread_user_id_created_at_id",
            "user_id",
            "created_at",
            "id",
            sqlite_where=text(UNREAD),
            postgresql_where=text(UNREAD),
        ),
        one_of("kind", NotificationKind),
        one_of("status", NotificationStatus),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ref_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    urgency: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The TTL deadline: after it the push is worthless (the prompt's day ended, the event started).
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    status: Mapped[NotificationStatus] = mapped_column(String(24))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    # A medication reminder's dose, which the app marks taken or skipped (``POST .../doses``).
    medication_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)


class Delivery(UUIDPrimaryKey, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # The claim in push/service.py::claim_due: pending rows by next_attempt_at.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # The inbox's delivery statuses and "is any delivery of this notification still pending".
        Index("ix_deliveries_notification_id", "notification_id"),
        one_of("status", DeliveryStatus),
        one_of("channel", Channel),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    # SET NULL: the inbox keeps the history of a device that is gone.
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL"), nullable=True
    )
    # push: to ``subscription_id``; email: to the recipient's account address, read when it is sent.
    channel: Mapped[Channel] = mapped_column(String(16), server_default="push")
    status: Mapped[DeliveryStatus] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class DeliveryAttempt(UUIDPrimaryKey, Base):
    """One POST to a push service. ``outcome`` is ``sending`` from the claim until the answer is
    recorded; one left at ``sending`` is a send whose worker died (it may have arrived)."""

    __tablename__ = "delivery_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTimeUTC())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
