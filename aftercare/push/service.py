"""Notifications: the inbox record, the push outbox, and the subscriptions it delivers to.

Push is one channel, the inbox is the record. ``enqueue_notifications`` writes the inbox rows and one
pending ``Delivery`` per subscription inside the caller's transaction (the sweeper's or the alert
service's), so a notification exists exactly when the act that caused it committed.

``deliver_due`` is at-least-once, never twice while a worker lives. It overlaps three stages, each a
function that also runs alone:

    claim_due       one conditional UPDATE ... RETURNING takes a lease on due rows; the same
                    transaction writes a ``sending`` attempt per row (record before you send); commit
    send_claimed    outside any transaction, at most ``concurrency`` at a time, each bounded by the
                    sender's timeout; the next claim is taken while this batch sends, and the lease
                    (``delivery_lease``) outlives the batch's last send behind everything queued ahead
    record_results  one transaction per group of finished sends, each change conditional on still
                    holding the lease (``lease_owner = me``); a worker killed before this leaves its
                    leases to expire, and another worker sends again with the same payload ``id``
                    for the device to drop
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

import msgspec
from sqlalchemy import ColumnElement, bindparam, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.audit import service as audit
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.db.types import uuid7
from aftercare.errors import FieldError, NotFound, ValidationFailed
from aftercare.i18n import _
from aftercare.pagination import Instant, Keyset, before_key
from aftercare.push import schemas
from aftercare.push.endpoints import push_service_origin, validate_subscription
from aftercare.push.mail import MailMessage, MailSender
from aftercare.push.models import (
    ABOUT_AN_ALERT,
    KINDS,
    UNREAD,
    Delivery,
    DeliveryAttempt,
    Notification,
    PushSubscription,
)
from aftercare.push.webpush import MAX_PAYLOAD_BYTES, PushMessage, PushSender, SendResult, backoff_seconds
from aftercare.push.webpush import validate_topic as _validate_topic
from aftercare.rules.routing import Channel

log = logging.getLogger(__name__)

# Six tries spread by backoff_seconds cover about half an hour before a delivery is given up.
MAX_ATTEMPTS = 6
# Added to the worst-case batch time (queued behind the sends ahead of it, then one timeout) when
# sizing a lease: encryption, recording and a slow database fit in it.
LEASE_MARGIN_SECONDS = 30.0
# Sends in flight per worker: enough to hide a push service's latency, few enough that encryption
# (CPU, on the loop) keeps up; bench/prompt_bench.py measured 64 and 128.
DEFAULT_CONCURRENCY = 128
URGENCIES = ("very-low", "low", "normal", "high")
_ERROR_CHARS = 500
_TITLE_CHARS, _BODY_CHARS, _URL_CHARS, _TAG_CHARS, _REF_CHARS = 120, 1000, 500, 64, 100

_Outcome = Literal["delivered", "gone", "retry", "failed", "expired"]
# What record_results counts a result as: its outcome, or lost to a worker that took over the lease.
Recorded = Literal["delivered", "gone", "retry", "failed", "expired", "lease_lost"]


class DeliveryReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one ``deliver_due`` call did. ``lease_lost``: sends whose result was not recorded on the
    delivery because another worker had taken the expired lease (it will send again)."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    gone: int = 0
    expired: int = 0
    lease_lost: int = 0


def payload_for(
    *,
    kind: str,
    title: str,
    body: str,
    url: str | None,
    tag: str | None,
    notification_id: uuid.UUID,
    dose: Dose | None = None,
) -> bytes:
    """The push body the service worker shows: exactly these fields, nothing read from elsewhere,
    so what reaches a lock screen is what the caller chose to say. ``id`` lets the device drop a
    repeat of an at-least-once delivery. A medication reminder also carries its ``dose``, for the
    app to mark it taken or skipped (``POST .../doses``); the app shows neither field."""
    payload: dict[str, object] = {
        "type": kind,
        "title": title,
        "body": body,
        "url": url,
        "tag": tag,
        "id": str(notification_id),
    }
    if dose is not None:
        payload.update(medication_id=dose.medication_id, scheduled_for=dose.scheduled_for)
    return msgspec.json.encode(payload)


class Dose(msgspec.Struct, frozen=True):
    """The dose a medication reminder is about: the plan medication's id and the dose's instant."""

    medication_id: str
    scheduled_for: datetime


def dose_of(medication_id: str | None, scheduled_for: datetime | None) -> Dose | None:
    """The stored columns as a ``Dose``, or None for a notification that is about none."""
    if medication_id is None or scheduled_for is None:
        return None
    return Dose(medication_id, scheduled_for)


def _check_notification(
    *,
    kind: str,
    title: str,
    body: str,
    url: str | None,
    tag: str | None,
    ref_id: str | None,
    urgency: str,
    topic: str | None,
) -> None:
    """Refuse a caller's bug here, in the caller's transaction, rather than at send time."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {URGENCIES}")
    for name, value, most in (
        ("title", title, _TITLE_CHARS),
        ("body", body, _BODY_CHARS),
        ("url", url, _URL_CHARS),
        ("tag", tag, _TAG_CHARS),
        ("ref_id", ref_id, _REF_CHARS),
    ):
        if value is not None and len(value) > most:
            raise ValueError(f"notification {name} is longer than {most} characters")
    if topic is not None:
        _validate_topic(topic)


class NotificationSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One notification to put in ``user_id``'s inbox (see ``enqueue_notifications``)."""

    user_id: uuid.UUID
    kind: str
    title: str
    body: str
    url: str | None
    tag: str | None
    ref_id: str | None
    urgency: str
    expires_at: datetime
    topic: str | None
    status: Literal["pending", "skipped_quiet_hours"] = "pending"
    channels: tuple[Channel, ...] = ("push",)
    """How it goes out besides the inbox: ``push`` to each of the user's devices, ``email`` to their
    account address (staff who opted in; routing decides); none: the inbox only."""
    dose: Dose | None = None
    """A medication reminder's dose."""


async def enqueue_notifications(
    session: AsyncSession, items: Sequence[NotificationSpec], *, now: datetime
) -> list[uuid.UUID]:
    """Put each notification in its user's inbox and queue it for each of that user's
    subscriptions; the ids in the order of ``items``. Runs in the caller's transaction and never
    commits. ``status="skipped_quiet_hours"`` records one without pushing. A user without
    subscriptions gets it in the inbox as ``no_subscription``; one already past ``expires_at`` as
    ``expired``. Invalid arguments raise ValueError before anything is written.

    Set-based: one query for the subscriptions of every user in ``items``, one INSERT for the inbox
    rows and one for the deliveries, however many items (a sweeper batch queues hundreds)."""
    ids = [uuid7() for _ in items]
    for notification_id, item in zip(ids, items, strict=True):
        _check_notification(
            kind=item.kind,
            title=item.title,
            body=item.body,
            url=item.url,
            tag=item.tag,
            ref_id=item.ref_id,
            urgency=item.urgency,
            topic=item.topic,
        )
        if (
            len(
                payload_for(
                    kind=item.kind,
                    title=item.title,
                    body=item.body,
                    url=item.url,
                    tag=item.tag,
                    notification_id=notification_id,
                    dose=item.dose,
                )
            )
            > MAX_PAYLOAD_BYTES
        ):
            raise ValueError(f"notification payload exceeds {MAX_PAYLOAD_BYTES} bytes")
    pushed = {
        item.user_id
        for item in items
        if item.status == "pending" and item.expires_at > now and "push" in item.channels
    }
    devices: dict[uuid.UUID, list[uuid.UUID]] = {}
    if pushed:
        # ix_push_subscriptions_user_id; ordered so deliveries are written in a stable order.
        for subscription_id, user_id in await session.execute(
            select(PushSubscription.id, PushSubscription.user_id)
            .where(PushSubscription.user_id.in_(pushed))
            .order_by(PushSubscription.id)
        ):
            devices.setdefault(user_id, []).append(subscription_id)
    notifications: list[dict[str, object]] = []
    deliveries: list[dict[str, object]] = []
    for notification_id, item in zip(ids, items, strict=True):
        targets: list[uuid.UUID] = []
        status: str = item.status
        mail = item.status == "pending" and item.expires_at > now and "email" in item.channels
        if item.status == "pending":
            if item.expires_at > now and "push" in item.channels:
                targets = devices.get(item.user_id, [])
            status = (
                "expired" if item.expires_at <= now else "pending" if targets or mail else "no_subscription"
            )
        notifications.append(
            {
                "id": notification_id,
                "user_id": item.user_id,
                "kind": item.kind,
                "title": item.title,
                "body": item.body,
                "url": item.url,
                "tag": item.tag,
                "ref_id": item.ref_id,
                "urgency": item.urgency,
                "topic": item.topic,
                "expires_at": item.expires_at,
                "created_at": now,
                "status": status,
                "medication_id": item.dose.medication_id if item.dose else None,
                "scheduled_for": item.dose.scheduled_for if item.dose else None,
            }
        )
        deliveries.extend(
            {
                "id": uuid7(),
                "notification_id": notification_id,
                "subscription_id": subscription_id,
                "channel": channel,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for subscription_id, channel in [
                *((subscription_id, "push") for subscription_id in targets),
                *([(None, "email")] if mail else []),
            ]
        )
    if notifications:
        await session.execute(insert(Notification), notifications)
    if deliveries:
        await session.execute(insert(Delivery), deliveries)
    return ids


# -- delivery -------------------------------------------------------------------------------------


class ClaimedDelivery(NamedTuple):
    """A delivery ``claim_due`` leased to this worker, its ``sending`` attempt written and its
    message built; ``claimed_at`` is the instant its lease was measured from."""

    delivery_id: uuid.UUID
    attempt_id: uuid.UUID
    notification_id: uuid.UUID
    kind: str
    attempts: int
    expires_at: datetime
    message: PushMessage | MailMessage
    claimed_at: datetime


class SettledDelivery(NamedTuple):
    """A delivery ``claim_due`` settled without sending: sending it could never succeed."""

    delivery_id: uuid.UUID
    notification_id: uuid.UUID
    status: Literal["expired", "gone", "failed"]
    error: str


class Claim(NamedTuple):
    """What one ``claim_due`` took: the deliveries to send and those it settled instead."""

    to_send: list[ClaimedDelivery]
    settled: list[SettledDelivery]


def delivery_lease(*, limit: int, concurrency: int, timeout: float) -> timedelta:
    """How long a claim of ``limit`` deliveries is held. The claimer takes the next batch once the
    previous one is less than a batch from its end, so the last job of a batch waits behind at most
    two batches and the sends in flight, each held for at most one ``timeout``."""
    return timedelta(
        seconds=math.ceil((2 * limit + concurrency) / concurrency) * timeout + LEASE_MARGIN_SECONDS
    )


async def deliver_due(
    session_factory: async_sessionmaker[AsyncSession],
    sender: PushSender,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    batches: int | None = 1,
    clock: Callable[[], datetime] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_attempts: int = MAX_ATTEMPTS,
    rng: random.Random | None = None,
    mailer: MailSender | None = None,
) -> DeliveryReport:
    """Claim due deliveries ``limit`` at a time (``batches`` claims at most; None: until a claim
    comes back short), send them, record the results. ``worker_id`` must be unique per live process
    (a restarted process takes a new one). ``clock`` is read before each claim after the first, so a
    lease taken late in a long run is measured from when it was taken. ``rng`` draws the backoff
    jitter (tests pass a seeded one).

    Overlaps the three stages on one event loop: ``claim_due`` takes the next batch while the
    current one is sending, ``concurrency`` tasks run ``send_claimed`` through the sender's one HTTP
    client, and ``record_results`` writes whatever results have arrived in one transaction while the
    sends go on (so a commit carries hundreds of results, not one). Only the hand-offs live here."""
    rng = rng or random.Random()
    read_clock = clock or (lambda: now)
    timeout = max(sender.timeout, mailer.timeout if mailer is not None else 0.0)
    lease = delivery_lease(limit=limit, concurrency=concurrency, timeout=timeout)
    queue: asyncio.Queue[ClaimedDelivery | None] = asyncio.Queue()
    results: list[tuple[ClaimedDelivery, SendResult]] = []
    arrived = asyncio.Event()
    room = asyncio.Event()
    sending_done = False
    counts: Counter[Recorded] = Counter()
    claimed = 0

    async def claiming() -> None:
        nonlocal claimed
        taken = 0
        at = now
        while batches is None or taken < batches:
            async with session_factory() as session:
                claim = await claim_due(
                    session, now=at, worker_id=worker_id, limit=limit, lease_until=at + lease
                )
            taken += 1
            size = len(claim.to_send) + len(claim.settled)
            claimed += size
            counts.update(item.status for item in claim.settled)
            for delivery in claim.to_send:
                queue.put_nowait(delivery)
            if size < limit:
                break
            # Claim again once less than a batch is left to send (the bound delivery_lease assumes).
            room.clear()
            if queue.qsize() >= limit:
                await room.wait()
            at = read_clock()
        for _sender in range(concurrency):
            queue.put_nowait(None)

    async def sending() -> None:
        while (delivery := await queue.get()) is not None:
            if queue.qsize() < limit:
                room.set()
            results.append((delivery, await send_claimed(sender, delivery, mailer)))
            arrived.set()

    async def senders() -> None:
        nonlocal sending_done
        try:
            async with asyncio.TaskGroup() as group:
                for _sender in range(concurrency):
                    group.create_task(sending())
        finally:
            sending_done = True
            arrived.set()

    async def recording() -> None:
        while True:
            await arrived.wait()
            arrived.clear()
            finished = sending_done
            if results:
                sent = results[:]
                results.clear()
                async with session_factory() as session:
                    counts.update(
                        await record_results(
                            session,
                            sent,
                            now=read_clock(),
                            worker_id=worker_id,
                            max_attempts=max_attempts,
                            rng=rng,
                        )
                    )
            if finished and not results:
                return

    async with asyncio.TaskGroup() as group:
        group.create_task(claiming())
        group.create_task(senders())
        group.create_task(recording())
    return DeliveryReport(
        claimed=claimed,
        delivered=counts["delivered"],
        retried=counts["retry"],
        failed=counts["failed"],
        gone=counts["gone"],
        expired=counts["expired"],
        lease_lost=counts["lease_lost"],
    )


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)


async def claim_due(
    session: AsyncSession, *, now: datetime, worker_id: str, limit: int, lease_until: datetime
) -> Claim:
    """Stage one: lease to ``worker_id`` until ``lease_until`` at most ``limit`` pending deliveries
    due at ``now``, earliest first, whose lease is free (none, or ended before ``now``), with one
    conditional UPDATE ... RETURNING. Two claims never both take a row while its lease lasts; a row
    whose lease ran out (its worker died) is claimed again. In the same transaction each row to send
    gets a ``sending`` attempt (recorded before it is sent), and a row that can never be sent is
    settled instead: expired, its subscription removed, or no valid message can be built from it.
    Opens and commits its own transaction on ``session``, so other workers see the leases as soon
    as it returns, and nothing is held open while the rows are sent."""
    async with session.begin():
        free = _lease_free(now)
        # ix_deliveries_status_next_attempt_at. SKIP LOCKED lets PostgreSQL workers pass each
        # other's uncommitted claims; SQLite renders nothing (BEGIN IMMEDIATE serialises writers).
        due = (
            select(Delivery.id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, free)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # The outer condition repeats the lease test: on PostgreSQL a row another worker claimed
        # and committed after our snapshot is re-checked here and dropped.
        claimed = (
            (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(due), free)
                    .values(lease_owner=worker_id, lease_until=lease_until)
                    .returning(Delivery.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        if not claimed:
            return Claim([], [])
        rows = (
            await session.execute(
                select(
                    Delivery.id,
                    Delivery.attempts,
                    Delivery.subscription_id,
                    Delivery.channel,
                    User.email,
                    Notification.id.label("nid"),
                    Notification.kind,
                    Notification.title,
                    Notification.body,
                    Notification.url,
                    Notification.tag,
                    Notification.urgency,
                    Notification.topic,
                    Notification.expires_at,
                    Notification.medication_id,
                    Notification.scheduled_for,
                    PushSubscription.endpoint,
                    PushSubscription.p256dh,
                    PushSubscription.auth,
                )
                .join(Notification, Notification.id == Delivery.notification_id)
                .join(User, User.id == Notification.user_id)
                .outerjoin(PushSubscription, PushSubscription.id == Delivery.subscription_id)
                .where(Delivery.id.in_(claimed))
            )
        ).all()
        to_send: list[ClaimedDelivery] = []
        settled: list[SettledDelivery] = []
        for row in rows:
            if row.expires_at <= now:  # never send a stale prompt
                settled.append(SettledDelivery(row.id, row.nid, "expired", "expired before it could be sent"))
                continue
            if row.channel == "email":
                # The address is the account's now (a changed one is used), never stored in the queue.
                mail = MailMessage(to=row.email, subject=row.title, body=row.body, path=row.url)
                to_send.append(
                    ClaimedDelivery(
                        row.id, uuid7(), row.nid, row.kind, row.attempts, row.expires_at, mail, now
                    )
                )
                continue
            if row.endpoint is None:
                settled.append(SettledDelivery(row.id, row.nid, "gone", "the subscription was removed"))
                continue
            payload = payload_for(
                kind=row.kind,
                title=row.title,
                body=row.body,
                url=row.url,
                tag=row.tag,
                notification_id=row.nid,
                dose=dose_of(row.medication_id, row.scheduled_for),
            )
            try:
                message = PushMessage(
                    endpoint=row.endpoint,
                    p256dh=row.p256dh,
                    auth=row.auth,
                    payload=payload,
                    ttl=max(1, int((row.expires_at - now).total_seconds())),
                    urgency=row.urgency,
                    topic=row.topic,
                )
            except ValueError as exc:  # a row written before a check existed; sending cannot help
                settled.append(SettledDelivery(row.id, row.nid, "failed", str(exc)[:_ERROR_CHARS]))
                continue
            to_send.append(
                ClaimedDelivery(
                    row.id, uuid7(), row.nid, row.kind, row.attempts, row.expires_at, message, now
                )
            )
        if to_send:
            await session.execute(
                insert(DeliveryAttempt),
                [
                    {"id": job.attempt_id, "delivery_id": job.delivery_id, "at": now, "outcome": "sending"}
                    for job in to_send
                ],
            )
        for item in settled:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == item.delivery_id)
                .values(status=item.status, lease_owner=None, lease_until=None, last_error=item.error)
                .execution_options(synchronize_session=False)
            )
        await _settle_undelivered(session, [c for c in settled if c.status == "expired"], "expired")
        await _settle_undelivered(session, [c for c in settled if c.status != "expired"], "failed")
    return Claim(to_send, settled)


async def send_claimed(
    sender: PushSender, delivery: ClaimedDelivery, mailer: MailSender | None = None
) -> SendResult:
    """Stage two: POST one claimed delivery to its push service (or hand an e-mail to the SMTP
    relay through ``mailer``; without one it fails: this process cannot send e-mail). It is given no session, so no
    transaction or connection is held while a push service takes its time. ``sender`` bounds the
    request by its ``timeout`` and never follows a redirect; the endpoint passed the allow-list when
    it was subscribed; the VAPID header is signed at ``claimed_at``. Never raises for a failed send:
    a bug in one becomes a ``retry`` result, so it cannot strand the leases of the rest of the
    batch."""
    try:
        if isinstance(delivery.message, MailMessage):
            if mailer is None:
                return SendResult(outcome="failed", error="no SMTP relay configured (AFTERCARE_SMTP_URL)")
            return await mailer.send(delivery.message)
        return await sender.send(delivery.message, delivery.claimed_at)
    except Exception as exc:
        log.exception("push send raised", extra={"delivery_id": str(delivery.delivery_id)})
        return SendResult(outcome="retry", error=f"{type(exc).__name__}: {exc}")


async def record_results(
    session: AsyncSession,
    sent: Sequence[tuple[ClaimedDelivery, SendResult]],
    *,
    now: datetime,
    worker_id: str,
    max_attempts: int,
    rng: random.Random,
) -> Counter[Recorded]:
    """Stage three: record what each send got, in one short transaction on ``session``, committed
    on return. Every attempt gets its outcome, whoever holds the lease now: it was sent. A delivery
    changes only while ``worker_id`` still holds its lease (``lease_owner``); one whose lease ran
    out and was claimed by another worker is left to that worker (it sends again) and counted
    ``lease_lost``. Otherwise the lease is released and the delivery becomes, by outcome:

        delivered  delivered, and so does its notification (``delivered_at = now``)
        retry      pending again at ``now`` + backoff_seconds(...), never before the Retry-After;
                   ``failed`` on try ``max_attempts``, ``expired`` if the retry would not come
                   before the notification's ``expires_at``
        gone       gone, and its subscription is deleted
        failed     failed: retrying cannot help

    A notification none of whose deliveries is pending or delivered any more becomes failed, or
    expired when the delivery that settled it expired. Returns how many results were recorded as
    each of the above."""
    counts: Counter[Recorded] = Counter()
    async with session.begin():
        # The attempt is a fact whether or not we still hold the lease: it was sent.
        await session.execute(
            update(DeliveryAttempt),
            [
                {
                    "id": job.attempt_id,
                    "outcome": result.outcome,
                    "status_code": result.status,
                    "error": (result.error or "")[:_ERROR_CHARS] or None,
                }
                for job, result in sent
            ],
        )
        delivered = [(job, result) for job, result in sent if result.outcome == "delivered"]
        for status_code in {result.status for _, result in delivered}:
            ids = [job.delivery_id for job, result in delivered if result.status == status_code]
            recorded = (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.lease_owner == worker_id)
                    .values(
                        status="delivered",
                        attempts=Delivery.attempts + 1,
                        lease_owner=None,
                        lease_until=None,
                        last_status_code=status_code,
                        last_error=None,
                    )
                    .returning(Delivery.notification_id, Delivery.subscription_id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            counts["delivered"] += len(recorded)
            counts["lease_lost"] += len(ids) - len(recorded)
            notification_ids = [notification_id for notification_id, _ in recorded]
            await _devices_answered(session, {s for _, s in recorded if s is not None}, success=True, now=now)
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(set(notification_ids)), Notification.status != "delivered")
                .values(status="delivered", delivered_at=now)
                .execution_options(synchronize_session=False)
            )
        for job, result in sent:
            if result.outcome != "delivered":
                counts[
                    await _record_undelivered(
                        session, job, result, now=now, worker_id=worker_id, max_attempts=max_attempts, rng=rng
                    )
                ] += 1
    return counts


async def _record_undelivered(
    session: AsyncSession,
    job: ClaimedDelivery,
    result: SendResult,
    *,
    now: datetime,
    worker_id: str,
    max_attempts: int,
    rng: random.Random,
) -> Recorded:
    attempts = job.attempts + 1
    status: _Outcome = (
        "failed" if result.outcome == "failed" else "gone" if result.outcome == "gone" else "retry"
    )
    next_attempt_at = now
    if status == "retry":
        next_attempt_at = now + timedelta(seconds=backoff_seconds(attempts, result.retry_after_seconds, rng))
        if attempts >= max_attempts:
            status = "failed"
        elif next_attempt_at >= job.expires_at:
            status = "expired"
    values: dict[str, object] = {
        "status": "pending" if status == "retry" else status,
        "attempts": attempts,
        "lease_owner": None,
        "lease_until": None,
        "last_status_code": result.status,
        "last_error": (result.error or "")[:_ERROR_CHARS] or None,
    }
    if status == "retry":
        values["next_attempt_at"] = next_attempt_at
    row = (
        await session.execute(
            update(Delivery)
            .where(Delivery.id == job.delivery_id, Delivery.lease_owner == worker_id)
            .values(**values)
            .returning(Delivery.subscription_id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        return "lease_lost"
    if result.status == 413:
        # Our payload bound is below every service's limit, so this is a bug here; the payload
        # itself is never logged (it may be about a person).
        log.error(
            "push service refused the payload as too large",
            extra={"delivery_id": str(job.delivery_id), "kind": job.kind},
        )
    if status == "gone" and row.subscription_id is not None:
        await session.execute(delete(PushSubscription).where(PushSubscription.id == row.subscription_id))
    elif row.subscription_id is not None:
        await _devices_answered(session, {row.subscription_id}, success=False, now=now)
    if status in ("failed", "gone", "expired"):
        await _settle_undelivered(
            session, [job.notification_id], "expired" if status == "expired" else "failed"
        )
    return status


async def _devices_answered(
    session: AsyncSession, subscription_ids: set[uuid.UUID], *, success: bool, now: datetime
) -> None:
    """Stamp when these devices' push service last took a push (``success``) or did not (any other
    answer, or none in time): what ``GET /v1/push/subscriptions`` shows of each device."""
    if subscription_ids:
        column = "last_success_at" if success else "last_failure_at"
        await session.execute(
            update(PushSubscription)
            .where(PushSubscription.id.in_(subscription_ids))
            .values({column: now})
            .execution_options(synchronize_session=False)
        )


async def _settle_undelivered(
    session: AsyncSession, items: Iterable[SettledDelivery | uuid.UUID], status: Literal["failed", "expired"]
) -> None:
    """A notification none of whose deliveries is pending or delivered any more gets ``status``."""
    ids = {item.notification_id if isinstance(item, SettledDelivery) else item for item in items}
    if not ids:
        return
    still_open = exists().where(
        Delivery.notification_id == Notification.id, Delivery.status.in_(("pending", "delivered"))
    )
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.status == "pending", ~still_open)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


# -- subscriptions --------------------------------------------------------------------------------


async def subscribe(
    session: AsyncSession,
    principal: Principal,
    data: schemas.SubscriptionCreate,
    *,
    allowed_origins: tuple[str, ...],
    now: datetime,
) -> schemas.SubscriptionCreated:
    """Store the caller's browser subscription. The same endpoint again updates its keys and moves
    it to the caller (a shared tablet): pushes still queued for its previous owner are dropped so
    they do not show on someone else's screen."""
    errors = validate_subscription(data.endpoint, data.keys.p256dh, data.keys.auth, allowed_origins)
    expiration: datetime | None = None
    if data.expiration_time is not None:
        try:
            expiration = datetime.fromtimestamp(data.expiration_time / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            errors.append(FieldError("expirationTime", _("must be a time in milliseconds since 1970")))
    if errors:
        raise ValidationFailed(errors)
    async with session.begin():
        previous_owner = await session.scalar(
            select(PushSubscription.user_id)
            .where(PushSubscription.endpoint == data.endpoint)
            .with_for_update()
        )
        dialect = (await session.connection()).dialect.name
        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PushSubscription).values(
            id=uuid7(),
            user_id=principal.user_id,
            endpoint=data.endpoint,
            p256dh=data.keys.p256dh,
            auth=data.keys.auth,
            expiration_time=expiration,
            created_at=now,
            updated_at=now,
        )
        subscription_id: uuid.UUID = (
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[PushSubscription.endpoint],
                    set_={
                        "user_id": principal.user_id,
                        "p256dh": upsert.excluded.p256dh,
                        "auth": upsert.excluded.auth,
                        "expiration_time": upsert.excluded.expiration_time,
                        "updated_at": now,
                    },
                ).returning(PushSubscription.id)
            )
        ).scalar_one()
        if previous_owner is not None and previous_owner != principal.user_id:
            dropped = (
                (
                    await session.execute(
                        update(Delivery)
                        .where(
                            Delivery.subscription_id == subscription_id,
                            Delivery.status == "pending",
                            _lease_free(now),
                        )
                        .values(status="gone", last_error="the device was moved to another user")
                        .returning(Delivery.notification_id)
                        .execution_options(synchronize_session=False)
                    )
                )
                .scalars()
                .all()
            )
            await _settle_undelivered(session, dropped, "failed")
        await audit.record(
            session,
            actor=principal,
            action="create" if previous_owner is None else "update",
            resource="push_subscription",
            graduate_id=principal.graduate_id,
            now=now,
            resource_id=str(subscription_id),
        )
    return schemas.SubscriptionCreated(id=subscription_id)


async def unsubscribe(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, *, now: datetime
) -> None:
    """Delete one of the caller's subscriptions; anyone else's is a 404. Its queued deliveries
    lose their subscription and are settled as ``gone`` when next claimed."""
    async with session.begin():
        deleted = (
            await session.execute(
                delete(PushSubscription)
                .where(PushSubscription.id == subscription_id, PushSubscription.user_id == principal.user_id)
                .returning(PushSubscription.id)
            )
        ).one_or_none()
        if deleted is None:
            raise NotFound(_("push subscription not found"))
        await audit.record(
            session,
            actor=principal,
            action="delete",
            resource="push_subscription",
            graduate_id=principal.graduate_id,
            now=now,
            resource_id=str(subscription_id),
        )


_DEVICE_CURSORS = Keyset[None](None)  # subscriptions sort by their UUIDv7 id alone, so by creation


async def list_subscriptions(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> schemas.DevicePage:
    """The caller's own devices, oldest first (ix_push_subscriptions_user_id). Each shows its push
    service's origin and never the endpoint: whoever knows the endpoint URL can push to the device."""
    key = _DEVICE_CURSORS.decode(cursor)
    query = (
        select(PushSubscription)
        .where(PushSubscription.user_id == principal.user_id)
        .order_by(PushSubscription.id)
        .limit(limit + 1)
    )
    if key is not None:
        query = query.where(PushSubscription.id > key.id)
    async with session.begin():
        rows = list((await session.scalars(query)).all())
    page, more = rows[:limit], len(rows) > limit
    return schemas.DevicePage(
        items=[
            schemas.Device(
                id=row.id,
                origin=push_service_origin(row.endpoint),
                created_at=row.created_at,
                last_success_at=row.last_success_at,
                last_failure_at=row.last_failure_at,
            )
            for row in page
        ],
        next_cursor=_DEVICE_CURSORS.encode(None, page[-1].id) if more else None,
    )


async def forget_devices(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete every subscription of ``user_id`` in the caller's transaction (an account that stopped
    signing in): nothing more reaches its devices; queued deliveries lose their subscription and are
    settled as ``gone`` when next claimed."""
    await session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id))


# -- the inbox ------------------------------------------------------------------------------------


_CURSORS = Keyset[datetime](Instant)  # the inbox's keys: (created_at, id)


async def list_notifications(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None, unread: bool = False
) -> schemas.NotificationPage:
    """The caller's inbox, newest first, each with its deliveries' status and attempts; ``unread``:
    only those not read yet. A cursor stays good across the filter: the keys are the same."""
    key = _CURSORS.decode(cursor)
    query = (
        select(Notification)
        .where(Notification.user_id == principal.user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit + 1)
    )
    if unread:  # ix_notifications_unread_user_id_created_at_id: the predicate repeats the index's
        query = query.where(text(UNREAD))
    if key is not None:  # a range scan of ix_notifications_user_id_created_at_id (or the unread one)
        query = query.where(before_key(Notification.created_at, Notification.id, key.sort_value, key.id))
    async with session.begin():
        rows = list((await session.scalars(query)).all())
        page, more = rows[:limit], len(rows) > limit
        deliveries = (
            (
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.notification_id.in_([n.id for n in page]))
                    .order_by(Delivery.id)
                )
            ).all()
            if page
            else []
        )
    by_notification: dict[uuid.UUID, list[schemas.DeliveryInfo]] = {}
    for d in deliveries:
        by_notification.setdefault(d.notification_id, []).append(
            schemas.DeliveryInfo(
                id=d.id,
                subscription_id=d.subscription_id,
                channel=d.channel,
                status=d.status,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            )
        )
    return schemas.NotificationPage(
        items=[
            schemas.NotificationItem(
                id=n.id,
                kind=n.kind,
                title=n.title,
                body=n.body,
                url=n.url,  # type: ignore[arg-type]
                tag=n.tag,
                ref_id=n.ref_id,
                urgency=n.urgency,
                status=n.status,
                created_at=n.created_at,
                expires_at=n.expires_at,
                delivered_at=n.delivered_at,
                read_at=n.read_at,
                medication_id=n.medication_id,
                scheduled_for=n.scheduled_for,
                deliveries=by_notification.get(n.id, []),
            )
            for n in page
        ],
        next_cursor=_CURSORS.encode(page[-1].created_at, page[-1].id) if more else None,
    )


# A count over the partial index ix_notifications_unread_user_id_created_at_id, which holds unread
# rows only: it costs what is unread, not the inbox's history. Built once (GET /v1/me runs it).
UNREAD_COUNT = (
    select(func.count())
    .select_from(Notification)
    .where(Notification.user_id == bindparam("user_id"), text(UNREAD))
)


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    """How many of the user's notifications are unread, in the caller's transaction."""
    return int(await session.scalar(UNREAD_COUNT, {"user_id": user_id}) or 0)


async def mark_read(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID, *, now: datetime
) -> schemas.NotificationRead:
    """Mark one of the caller's notifications read. Idempotent: read again, it keeps the instant it
    was first read. Anyone else's, or none, is a 404."""
    async with session.begin():
        await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.user_id == principal.user_id,
                Notification.read_at.is_(None),
            )
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        read_at = await session.scalar(
            select(Notification.read_at).where(
                Notification.id == notification_id, Notification.user_id == principal.user_id
            )
        )
    if read_at is None:
        raise NotFound(_("notification not found"))
    return schemas.NotificationRead(id=notification_id, read_at=read_at)


async def mark_all_read(
    session: AsyncSession, principal: Principal, *, before: datetime, now: datetime
) -> schemas.NotificationsRead:
    """Mark every unread notification of the caller created at or before ``before`` read (the app
    passes the newest it has shown, so one that arrives meanwhile stays unread); how many."""
    async with session.begin():
        marked = await session.execute(
            update(Notification)
            .where(Notification.user_id == principal.user_id, text(UNREAD), Notification.created_at <= before)
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
    return schemas.NotificationsRead(marked=marked.rowcount)  # type: ignore[attr-defined]


async def notifications_about(session: AsyncSession, alert_id: uuid.UUID) -> list[schemas.SentNotification]:
    """Every push about one alert (``ref_id``), oldest first, with its deliveries and their attempts;
    three statements, the first on the partial index ``ix_notifications_alert_ref_id``."""
    notifications = list(
        await session.scalars(
            select(Notification)
            .where(Notification.ref_id == str(alert_id), text(ABOUT_AN_ALERT))
            .order_by(Notification.created_at, Notification.id)
        )
    )
    deliveries = (
        list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.notification_id.in_([n.id for n in notifications]))
                .order_by(Delivery.id)
            )
        )
        if notifications
        else []
    )
    attempts: dict[uuid.UUID, list[schemas.DeliveryAttemptInfo]] = {}
    if deliveries:
        for attempt in await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(
                schemas.DeliveryAttemptInfo(
                    at=attempt.at,
                    status_code=attempt.status_code,
                    outcome=attempt.outcome,
                    error=attempt.error,
                )
            )
    by_notification: dict[uuid.UUID, list[schemas.DeliveryHistory]] = {}
    for d in deliveries:
        by_notification.setdefault(d.notification_id, []).append(
            schemas.DeliveryHistory(
                id=d.id,
                subscription_id=d.subscription_id,
                channel=d.channel,
                status=d.status,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                attempt_log=attempts.get(d.id, []),
            )
        )
    return [
        schemas.SentNotification(
            id=n.id,
            kind=n.kind,
            recipient_id=n.user_id,
            channel="push",
            channels=sorted({d.channel for d in deliveries if d.notification_id == n.id}),
            urgency=n.urgency,
            status=n.status,
            created_at=n.created_at,
            delivered_at=n.delivered_at,
            deliveries=by_notification.get(n.id, []),
        )
        for n in notifications
    ]
