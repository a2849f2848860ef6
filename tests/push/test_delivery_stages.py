"""Each stage of ``deliver_due`` alone, on both engines: ``claim_due`` against arranged outbox rows,
``send_claimed`` to the loopback push service (which checks VAPID and decrypts) with the database
watched, and ``record_results`` fed the ``SendResult`` a push service's answer becomes.
``test_delivery.py`` runs the three together."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare.clock import FixedClock
from aftercare.push import schemas, service
from aftercare.push.models import Delivery, DeliveryAttempt, Notification, PushSubscription
from aftercare.push.webpush import PushMessage, PushSender, SendResult
from tests.fakes.push_service import FakePushService, FakeSubscription
from tests.push.conftest import MakeUser, StartPushService

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
SessionFactory = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("quiet_outbox")


class Device(NamedTuple):
    """A user with one subscription on the loopback push service: its row id and its keys."""

    user_id: uuid.UUID
    subscription_id: uuid.UUID
    sub: FakeSubscription


@pytest.fixture
async def loopback(start_push_service: StartPushService) -> FakePushService:
    # Judges VAPID exp at T0: sends are signed at their claimed_at, and these tests claim at T0.
    return await start_push_service(FixedClock(T0))


@pytest.fixture
async def device(make_user: MakeUser, session_factory: SessionFactory, loopback: FakePushService) -> Device:
    user = await make_user(now=T0)
    sub = loopback.new_subscription()
    async with session_factory() as session:
        created = await service.subscribe(
            session,
            user,
            schemas.SubscriptionCreate(
                endpoint=sub.endpoint, keys=schemas.SubscriptionKeys(p256dh=sub.p256dh, auth=sub.auth)
            ),
            allowed_origins=(loopback.origin,),
            now=T0,
        )
    return Device(user.user_id, created.id, sub)


async def _queue(
    session_factory: SessionFactory, device: Device, *, expires_at: datetime = T0 + timedelta(hours=6)
) -> uuid.UUID:
    """One pending notification for ``device``'s user; its delivery is due at T0."""
    spec = service.NotificationSpec(
        user_id=device.user_id,
        kind="checkin_prompt",
        title="Daily check-in",
        body="How was today?",
        url="/checkin",
        tag="checkin-2026-11-24",
        ref_id="2026-11-24",
        urgency="normal",
        expires_at=expires_at,
        topic=None,
    )
    async with session_factory() as session, session.begin():
        [notification_id] = await service.enqueue_notifications(session, [spec], now=T0)
    return notification_id


async def _arrange(session_factory: SessionFactory, notification_id: uuid.UUID, **values: Any) -> None:
    """Put a queued delivery in the state a test starts from."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.notification_id == notification_id).values(**values)
        )


async def _claim(
    session_factory: SessionFactory, *, now: datetime, worker_id: str = "w1", limit: int = 10
) -> service.Claim:
    async with session_factory() as session:
        claim = await service.claim_due(
            session, now=now, worker_id=worker_id, limit=limit, lease_until=now + LEASE
        )
        assert not session.in_transaction()  # committed before anything is sent
    return claim


async def _record(
    session_factory: SessionFactory,
    sent: list[tuple[service.ClaimedDelivery, SendResult]],
    *,
    now: datetime,
    worker_id: str = "w1",
    max_attempts: int = service.MAX_ATTEMPTS,
) -> Counter[service.Recorded]:
    async with session_factory() as session:
        counts = await service.record_results(
            session, sent, now=now, worker_id=worker_id, max_attempts=max_attempts, rng=random.Random(7)
        )
        assert not session.in_transaction()
    return counts


async def _delivery(session_factory: SessionFactory, notification_id: uuid.UUID) -> Delivery:
    async with session_factory() as session:
        return (
            await session.scalars(select(Delivery).where(Delivery.notification_id == notification_id))
        ).one()


async def _notification(session_factory: SessionFactory, notification_id: uuid.UUID) -> Notification:
    async with session_factory() as session:
        notification = await session.get(Notification, notification_id)
    assert notification is not None
    return notification


async def _attempts(session_factory: SessionFactory, delivery_id: uuid.UUID) -> list[tuple[str, int | None]]:
    async with session_factory() as session:
        rows = await session.execute(
            select(DeliveryAttempt.outcome, DeliveryAttempt.status_code)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id)
        )
        return [(r.outcome, r.status_code) for r in rows]


def _lease(delivery: Delivery) -> tuple[str, str | None, datetime | None, int]:
    return (delivery.status, delivery.lease_owner, delivery.lease_until, delivery.attempts)


def _columns(delivery: Delivery) -> dict[str, object]:
    return {column.key: getattr(delivery, column.key) for column in Delivery.__table__.columns}


# -- claim_due ------------------------------------------------------------------------------------


async def test_the_claim_takes_only_due_unleased_pending_rows_and_commits_a_sending_attempt(
    session_factory: SessionFactory, device: Device
) -> None:
    due = await _queue(session_factory, device)
    not_yet = await _queue(session_factory, device)
    await _arrange(session_factory, not_yet, next_attempt_at=T0 + timedelta(seconds=1))
    leased = await _queue(session_factory, device)
    await _arrange(session_factory, leased, lease_owner="other", lease_until=T0 + LEASE)
    finished = await _queue(session_factory, device)
    await _arrange(session_factory, finished, status="delivered")

    to_send, settled = await _claim(session_factory, now=T0)

    assert settled == []
    [claimed] = to_send
    assert (claimed.notification_id, claimed.attempts, claimed.claimed_at) == (due, 0, T0)
    assert (claimed.message.endpoint, claimed.message.ttl) == (device.sub.endpoint, 6 * 3600)
    taken = await _delivery(session_factory, due)  # read in another session: committed
    assert _lease(taken) == ("pending", "w1", T0 + LEASE, 0)
    assert await _attempts(session_factory, taken.id) == [("sending", None)]
    assert _lease(await _delivery(session_factory, not_yet)) == ("pending", None, None, 0)
    assert _lease(await _delivery(session_factory, leased)) == ("pending", "other", T0 + LEASE, 0)
    assert _lease(await _delivery(session_factory, finished)) == ("delivered", None, None, 0)


async def test_a_second_claim_at_the_same_instant_gets_none(
    session_factory: SessionFactory, device: Device
) -> None:
    await _queue(session_factory, device)
    assert len((await _claim(session_factory, now=T0, worker_id="w1")).to_send) == 1
    assert await _claim(session_factory, now=T0, worker_id="w2") == service.Claim([], [])


async def test_concurrent_claims_share_the_due_rows_without_overlap(
    session_factory: SessionFactory, device: Device
) -> None:
    queued = {await _queue(session_factory, device) for _ in range(30)}
    claims = await asyncio.gather(
        *(_claim(session_factory, now=T0, worker_id=f"w{n}", limit=20) for n in range(3))
    )
    taken = [claimed.notification_id for claim in claims for claimed in claim.to_send]
    assert sorted(taken) == sorted(queued)  # every row once, none twice


async def test_the_claim_takes_the_longest_waiting_first_up_to_its_limit(
    session_factory: SessionFactory, device: Device
) -> None:
    waited = {}
    for seconds in (3, 1, 2):
        notification_id = await _queue(session_factory, device)
        await _arrange(session_factory, notification_id, next_attempt_at=T0 - timedelta(seconds=seconds))
        waited[seconds] = notification_id
    to_send, _ = await _claim(session_factory, now=T0, limit=2)
    assert {claimed.notification_id for claimed in to_send} == {waited[3], waited[2]}


async def test_an_expired_lease_is_claimed_again(session_factory: SessionFactory, device: Device) -> None:
    notification_id = await _queue(session_factory, device)
    [first], _ = await _claim(session_factory, now=T0, worker_id="dead")
    # The lease is free only once it has ended before the claim's now.
    assert await _claim(session_factory, now=T0 + LEASE, worker_id="alive") == service.Claim([], [])
    later = T0 + LEASE + timedelta(microseconds=1)
    [second], _ = await _claim(session_factory, now=later, worker_id="alive")
    assert second.delivery_id == first.delivery_id and second.attempt_id != first.attempt_id
    assert second.claimed_at == later
    delivery = await _delivery(session_factory, notification_id)
    assert _lease(delivery) == ("pending", "alive", later + LEASE, 0)
    assert await _attempts(session_factory, delivery.id) == [("sending", None), ("sending", None)]


async def test_the_claim_settles_what_could_never_be_sent(
    session_factory: SessionFactory, device: Device, loopback: FakePushService
) -> None:
    stale = await _queue(session_factory, device, expires_at=T0 + timedelta(hours=1))
    orphan = await _queue(session_factory, device)
    async with session_factory() as session, session.begin():
        await session.execute(delete(PushSubscription).where(PushSubscription.id == device.subscription_id))

    to_send, settled = await _claim(session_factory, now=T0 + timedelta(hours=2))

    assert to_send == []
    assert {(s.notification_id, s.status) for s in settled} == {(stale, "expired"), (orphan, "gone")}
    for notification_id, delivery_status, inbox_status in (
        (stale, "expired", "expired"),
        (orphan, "gone", "failed"),
    ):
        delivery = await _delivery(session_factory, notification_id)
        assert _lease(delivery) == (delivery_status, None, None, 0)
        assert await _attempts(session_factory, delivery.id) == []  # never sent, so no attempt
        assert (await _notification(session_factory, notification_id)).status == inbox_status
    assert loopback.attempts == []


# -- send_claimed ---------------------------------------------------------------------------------


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def test_sending_reaches_the_push_service_and_touches_no_database(
    session_factory: SessionFactory,
    engine: AsyncEngine,
    device: Device,
    loopback: FakePushService,
    push_sender: PushSender,
) -> None:
    notification_id = await _queue(session_factory, device)
    [claimed], _ = await _claim(session_factory, now=T0)

    with _statements(engine) as statements:
        result = await service.send_claimed(push_sender, claimed)

    assert statements == []
    assert result == SendResult(outcome="delivered", status=201)
    [push] = loopback.received
    assert (push.sub_id, push.json()["id"]) == (device.sub.sub_id, str(notification_id))
    # Until the result is recorded, the outbox says only that a send began.
    delivery = await _delivery(session_factory, notification_id)
    assert _lease(delivery) == ("pending", "w1", T0 + LEASE, 0)
    assert await _attempts(session_factory, delivery.id) == [("sending", None)]


class _Broken(PushSender):
    """A sender with a bug: its send raises instead of returning a SendResult."""

    def __init__(self) -> None:
        pass

    async def send(self, message: PushMessage, now: datetime) -> SendResult:
        raise RuntimeError("bug in the sender")


async def test_a_send_that_raises_becomes_a_retry_result(
    session_factory: SessionFactory, device: Device
) -> None:
    await _queue(session_factory, device)
    [claimed], _ = await _claim(session_factory, now=T0)
    result = await service.send_claimed(_Broken(), claimed)
    assert result == SendResult(outcome="retry", error="RuntimeError: bug in the sender")


# -- record_results -------------------------------------------------------------------------------

RECORDED_AT = T0 + timedelta(seconds=5)


ACCEPTED = SendResult(outcome="delivered", status=201)
UNAVAILABLE = SendResult(outcome="retry", status=503, error="HTTP 503")
THROTTLED_AN_HOUR = SendResult(outcome="retry", status=429, retry_after_seconds=3600, error="HTTP 429")
REFUSED = SendResult(outcome="failed", status=400, error="HTTP 400")
SIX_HOURS, HALF_AN_HOUR = timedelta(hours=6), timedelta(minutes=30)


@pytest.mark.parametrize(
    ("result", "max_attempts", "expires_in", "delivery_status", "inbox_status", "counted"),
    [
        (ACCEPTED, 6, SIX_HOURS, "delivered", "delivered", "delivered"),
        (UNAVAILABLE, 6, SIX_HOURS, "pending", "pending", "retry"),
        (UNAVAILABLE, 1, SIX_HOURS, "failed", "failed", "failed"),
        (THROTTLED_AN_HOUR, 6, HALF_AN_HOUR, "expired", "expired", "expired"),
        (REFUSED, 6, SIX_HOURS, "failed", "failed", "failed"),
    ],
    ids=["delivered", "retry", "retry-on-the-last-try-fails", "retry-past-the-deadline-expires", "failed"],
)
async def test_recording_settles_the_delivery_and_its_notification_by_outcome(
    session_factory: SessionFactory,
    device: Device,
    result: SendResult,
    max_attempts: int,
    expires_in: timedelta,
    delivery_status: str,
    inbox_status: str,
    counted: service.Recorded,
) -> None:
    notification_id = await _queue(session_factory, device, expires_at=T0 + expires_in)
    [claimed], _ = await _claim(session_factory, now=T0)

    counts = await _record(session_factory, [(claimed, result)], now=RECORDED_AT, max_attempts=max_attempts)

    assert counts == Counter({counted: 1})
    delivery = await _delivery(session_factory, notification_id)
    assert _lease(delivery) == (delivery_status, None, None, 1)  # the lease is released
    assert delivery.last_status_code == result.status
    assert await _attempts(session_factory, delivery.id) == [(result.outcome, result.status)]
    notification = await _notification(session_factory, notification_id)
    assert notification.status == inbox_status
    assert notification.delivered_at == (RECORDED_AT if inbox_status == "delivered" else None)


async def test_a_410_result_removes_the_subscription(session_factory: SessionFactory, device: Device) -> None:
    notification_id = await _queue(session_factory, device)
    [claimed], _ = await _claim(session_factory, now=T0)

    gone = SendResult(outcome="gone", status=410, error="HTTP 410: subscription expired")
    assert await _record(session_factory, [(claimed, gone)], now=RECORDED_AT) == Counter({"gone": 1})

    async with session_factory() as session:
        assert await session.get(PushSubscription, device.subscription_id) is None
    delivery = await _delivery(session_factory, notification_id)
    assert (delivery.status, delivery.subscription_id, delivery.last_status_code) == ("gone", None, 410)
    assert (await _notification(session_factory, notification_id)).status == "failed"  # still in the inbox


# After 0 tries the jitter's ceiling (30 s) is below the Retry-After; after 5 it is above (960 s),
# and the seeded draw (311 s) still falls below it.
@pytest.mark.parametrize("tries_before", [0, 5])
async def test_a_429_with_retry_after_is_retried_no_earlier_than_it_says(
    session_factory: SessionFactory, device: Device, tries_before: int
) -> None:
    notification_id = await _queue(session_factory, device)
    await _arrange(session_factory, notification_id, attempts=tries_before)
    [claimed], _ = await _claim(session_factory, now=T0)

    throttled = SendResult(outcome="retry", status=429, retry_after_seconds=600, error="HTTP 429")
    counts = await _record(session_factory, [(claimed, throttled)], now=RECORDED_AT, max_attempts=10)
    assert counts == Counter({"retry": 1})

    delivery = await _delivery(session_factory, notification_id)
    assert _lease(delivery) == ("pending", None, None, tries_before + 1)
    assert delivery.next_attempt_at >= RECORDED_AT + timedelta(seconds=600)
    assert (await _notification(session_factory, notification_id)).status == "pending"


async def test_recording_without_the_lease_changes_only_the_attempt(
    session_factory: SessionFactory, device: Device
) -> None:
    gone_id = await _queue(session_factory, device)
    delivered_id = await _queue(session_factory, device)
    late_sends = (await _claim(session_factory, now=T0, worker_id="slow")).to_send
    # The slow worker's lease runs out and another worker claims the rows again.
    taken_over_at = T0 + 2 * LEASE
    assert len((await _claim(session_factory, now=taken_over_at, worker_id="fast")).to_send) == 2
    before = {n: _columns(await _delivery(session_factory, n)) for n in (gone_id, delivered_id)}

    results = {
        gone_id: SendResult(outcome="gone", status=410, error="HTTP 410"),
        delivered_id: SendResult(outcome="delivered", status=201),
    }
    sent = [(claimed, results[claimed.notification_id]) for claimed in late_sends]
    counts = await _record(session_factory, sent, now=taken_over_at + timedelta(seconds=1), worker_id="slow")

    assert counts == Counter({"lease_lost": 2})
    assert {n: _columns(await _delivery(session_factory, n)) for n in (gone_id, delivered_id)} == before
    for notification_id in (gone_id, delivered_id):
        assert (await _notification(session_factory, notification_id)).status == "pending"
    async with session_factory() as session:
        assert await session.get(PushSubscription, device.subscription_id) is not None
    # The slow worker's attempt did happen: its row says how it went; the new claim's is still sending.
    gone_delivery = await _delivery(session_factory, gone_id)
    assert await _attempts(session_factory, gone_delivery.id) == [("gone", 410), ("sending", None)]
