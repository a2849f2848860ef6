"""Wire types of push subscriptions and the in-app inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

# How a delivery travels: web push to one subscription, or e-mail through the SMTP relay (staff who
# opted in, alerts and escalations only). Routing decides it, so the type is routing's.
from aftercare.rules.routing import Channel

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
NotificationKind = Literal[
    "checkin_prompt",
    "checkin_nudge",
    "therapy_reminder",
    "support_group_reminder",
    "medication_reminder",
    "alert",
    "escalation",
    "deletion_request",
]
NotificationStatus = Literal[
    "pending", "delivered", "failed", "no_subscription", "skipped_quiet_hours", "expired"
]
DeliveryStatus = Literal["pending", "delivered", "failed", "gone", "expired"]


class VapidPublicKey(msgspec.Struct):
    public_key: str


class SubscriptionKeys(msgspec.Struct):
    # Lengths are bounded here so an absurd body fails fast; the real checks (a P-256 point,
    # 16 bytes of auth) are in push/endpoints.py::validate_subscription.
    p256dh: Annotated[str, msgspec.Meta(max_length=200)]
    auth: Annotated[str, msgspec.Meta(max_length=100)]


class SubscriptionCreate(msgspec.Struct, kw_only=True):
    """A browser's ``PushSubscription.toJSON()``. Unknown fields are ignored: browsers add them."""

    endpoint: Annotated[str, msgspec.Meta(max_length=2000)]
    keys: SubscriptionKeys
    # Milliseconds since the epoch (a DOMHighResTimeStamp, so possibly fractional; usually null).
    expiration_time: float | None = msgspec.field(default=None, name="expirationTime")


class SubscriptionCreated(msgspec.Struct):
    id: uuid.UUID


class DeliveryInfo(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    subscription_id: uuid.UUID | None  # push: the device; null for e-mail, or a device since removed
    channel: Channel = "push"
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    next_attempt_at: UtcTimestamp | None  # only while pending


class NotificationItem(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: NotificationKind
    title: str
    body: str
    url: str | None
    tag: str | None
    ref_id: str | None
    urgency: str
    status: NotificationStatus
    created_at: UtcTimestamp
    expires_at: UtcTimestamp
    delivered_at: UtcTimestamp | None
    read_at: UtcTimestamp | None
    """When the recipient marked it read; null while unread."""
    deliveries: list[DeliveryInfo]
    medication_id: Annotated[
        str | None, msgspec.Meta(description="a medication reminder's dose: the plan medication's id")
    ] = None
    scheduled_for: Annotated[
        UtcTimestamp | None,
        msgspec.Meta(description="a medication reminder's dose: its instant (for POST .../doses)"),
    ] = None


class NotificationRead(msgspec.Struct, kw_only=True):
    """``POST /v1/me/notifications/{id}/read``: the notification and when it was first read."""

    id: uuid.UUID
    read_at: UtcTimestamp


class MarkRead(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/me/notifications/read``: every notification created at or before ``before``."""

    before: UtcTimestamp


class NotificationsRead(msgspec.Struct):
    marked: int
    """How many notifications this call marked read (those read already are not counted)."""


class Device(msgspec.Struct, kw_only=True):
    """One of the caller's push subscriptions, as ``GET /v1/push/subscriptions`` shows it."""

    id: uuid.UUID
    origin: str
    """The push service, ``scheme://host[:port]`` (e.g. ``https://fcm.googleapis.com``); never the
    endpoint URL, which lets whoever knows it push to the device."""
    created_at: UtcTimestamp
    last_success_at: UtcTimestamp | None
    """When its push service last accepted a push to it; null if it never has."""
    last_failure_at: UtcTimestamp | None
    """When its push service last refused a push to it or did not answer in time; null if never."""


class DevicePage(msgspec.Struct):
    items: list[Device]
    next_cursor: str | None


class DeliveryAttemptInfo(msgspec.Struct, kw_only=True):
    at: UtcTimestamp
    status_code: int | None  # the push service's HTTP status or the SMTP reply code; None if none came
    outcome: str  # delivered, retry, failed, gone; sending: no answer recorded (its worker died)
    error: str | None = None  # what went wrong, without the message (a timeout, a refusal)


class DeliveryHistory(DeliveryInfo, kw_only=True):
    """A delivery with each of its attempts, oldest first."""

    attempt_log: list[DeliveryAttemptInfo]


class SentNotification(msgspec.Struct, kw_only=True):
    """A notification as staff see it in an alert's story: to whom, how, and how its pushes went.
    Title and body are left out: they are fixed texts and carry only the severity."""

    id: uuid.UUID
    kind: NotificationKind
    recipient_id: uuid.UUID
    channel: Literal["push"]  # an in-app inbox entry, pushed to each of the recipient's devices
    channels: list[Channel] = msgspec.field(default_factory=list)
    """How it went out besides the inbox: ``push`` (the recipient's devices), ``email``; empty: the
    inbox only (the recipient had no channel when it was sent)."""
    urgency: str
    status: NotificationStatus
    created_at: UtcTimestamp
    delivered_at: UtcTimestamp | None
    deliveries: list[DeliveryHistory]


class NotificationPage(msgspec.Struct):
    items: list[NotificationItem]
    next_cursor: str | None
