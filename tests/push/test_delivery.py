"""``deliver_due`` against the loopback push service (which checks VAPID and decrypts), on both
engines: what arrives, what each answer does to the outbox and inbox, and that leases make
delivery at-least-once and never twice while a worker lives."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.auth.principal import Principal
from aftercare.clock import FixedClock
from aftercare.push import schemas, service
from aftercare.push.models import Delivery, DeliveryAttempt, Notification, PushSubscription
from aftercare.push.webpush import PushMessage, PushSender, SendResult, make_topic
from tests.fakes.push_service import Behaviour, FakePushService, FakeSubscription
from tests.push.conftest import MakeUser, StartPushService

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
SessionFactory = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("quiet_outbox")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
async def loopback(start_push_service: StartPushService, clock: FixedClock) -> FakePushService:
    # Judges VAPID exp by the same fake clock the sender signs at.
    return await start_push_service(clock)


@pytest.fixture
async def graduate(
    make_user: MakeUser, session_factory: SessionFactory, loopback: FakePushService, clock: FixedClock
) -> tuple[Principal, FakeSubscription]:
    user = await make_user(now=clock.now())
    sub = loopback.new_subscription()
    async with session_factory() as session:
        await service.subscribe(
            session,
            user,
            schemas.SubscriptionCreate(
                endpoint=sub.endpoint, keys=schemas.SubscriptionKeys(p256dh=sub.p256dh, auth=sub.auth)
            ),
            allowed_origins=(loopback.origin,),
            now=clock.now(),
        )
    return user, sub


async def _enqueue(
    session_factory: SessionFactory, user_id: uuid.UUID, now: datetime, **overrides: object
) -> uuid.UUID:
    fields: dict[str, object] = {
        "kind": "checkin_prompt",
        "title": "Daily check-in",
        "body": "How was today?",
        "url": "/checkin",
        "tag": "checkin-2026-11-24",
        "ref_id": "2026-11-24",
        "urgency": "normal",
        "expires_at": now + timedelta(hours=6),
        "topic": make_topic("checkin_prompt", "2026-11-24"),
        "now": now,
        **overrides,
    }
    now = fields.pop("now")
    spec = service.NotificationSpec(user_id=user_id, **fields)  # type: ignore[arg-type]
    async with session_factory() as session, session.begin():
        [notification_id] = await service.enqueue_notifications(session, [spec], now=now)  # type: ignore[arg-type]
    return notification_id


async def _deliver(
    session_factory: SessionFactory,
    sender: PushSender,
    clock: FixedClock,
    worker_id: str = "w1",
    **kw: object,
) -> service.DeliveryReport:
    options: dict[str, object] = {"limit": 100, "rng": random.Random(7), **kw}
    return await service.deliver_due(session_factory, sender, now=clock.now(), worker_id=worker_id, **options)  # type: ignore[arg-type]


async def _delivery(session_factory: SessionFactory, notification_id: uuid.UUID) -> Delivery:
    async with session_factory() as session:
        return (
            await session.scalars(select(Delivery).where(Delivery.notification_id == notification_id))
        ).one()


async def _attempts(session_factory: SessionFactory, delivery_id: uuid.UUID) -> list[tuple[str, int | None]]:
    async with session_factory() as session:
        rows = await session.execute(
            select(DeliveryAttempt.outcome, DeliveryAttempt.status_code)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id)
        )
        return [(r.outcome, r.status_code) for r in rows]


async def test_prompt_arrives_decrypted_with_headers_and_inbox_says_delivered(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, sub = graduate
    notification_id = await _enqueue(session_factory, user.user_id, clock.now(), urgency="high")
    report = await _deliver(session_factory, push_sender, clock)
    assert (report.claimed, report.delivered) == (1, 1)
    [push] = loopback.received
    assert push.sub_id == sub.sub_id
    assert push.json() == {
        "type": "checkin_prompt",
        "title": "Daily check-in",
        "body": "How was today?",
        "url": "/checkin",
        "tag": "checkin-2026-11-24",
        "id": str(notification_id),
    }
    assert (push.ttl, push.urgency, push.topic) == (
        6 * 3600,
        "high",
        make_topic("checkin_prompt", "2026-11-24"),
    )
    async with session_factory() as session:
        page = await service.list_notifications(session, user, limit=10, cursor=None)
    [item] = page.items
    assert (item.id, item.status, item.delivered_at) == (notification_id, "delivered", clock.now())
    assert [(d.status, d.attempts) for d in item.deliveries] == [("delivered", 1)]
    assert await _attempts(session_factory, item.deliveries[0].id) == [("delivered", 201)]
    assert (await _deliver(session_factory, push_sender, clock)).claimed == 0


async def test_gone_deletes_the_subscription(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, sub = graduate
    loopback.unsubscribe(sub.sub_id)
    notification_id = await _enqueue(session_factory, user.user_id, clock.now())
    report = await _deliver(session_factory, push_sender, clock)
    assert report.gone == 1
    delivery = await _delivery(session_factory, notification_id)
    assert (delivery.status, delivery.subscription_id, delivery.last_status_code) == ("gone", None, 410)
    async with session_factory() as session:
        assert (
            await session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.user_id))
        ).first() is None
        notification = await session.get(Notification, notification_id)
    assert notification is not None and notification.status == "failed"  # still in the inbox
    # The next notification has nowhere to go but the inbox.
    later = await _enqueue(session_factory, user.user_id, clock.now())
    async with session_factory() as session:
        assert (await session.get(Notification, later)).status == "no_subscription"  # type: ignore[union-attr]


async def test_429_waits_for_retry_after_then_delivers(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    loopback.behave(Behaviour(429, retry_after="600"), times=1)
    notification_id = await _enqueue(session_factory, user.user_id, clock.now())
    started = clock.now()
    assert (await _deliver(session_factory, push_sender, clock)).retried == 1
    delivery = await _delivery(session_factory, notification_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 429)
    assert delivery.next_attempt_at >= started + timedelta(seconds=600)
    assert delivery.lease_owner is None
    clock.advance(seconds=599)
    assert (await _deliver(session_factory, push_sender, clock)).claimed == 0
    clock.set(delivery.next_attempt_at)
    assert (await _deliver(session_factory, push_sender, clock)).delivered == 1
    [push] = loopback.received
    assert push.json()["id"] == str(notification_id)
    assert push.ttl == int((started + timedelta(hours=6) - clock.now()).total_seconds())  # TTL shrinks
    assert await _attempts(session_factory, delivery.id) == [("retry", 429), ("delivered", 201)]


async def test_5xx_retries_with_backoff_then_fails_after_the_limit(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    loopback.behave(Behaviour(500))
    notification_id = await _enqueue(session_factory, user.user_id, clock.now())
    previous = clock.now()
    for attempt in (1, 2):
        assert (await _deliver(session_factory, push_sender, clock, max_attempts=3)).retried == 1
        delivery = await _delivery(session_factory, notification_id)
        assert (delivery.status, delivery.attempts) == ("pending", attempt)
        assert delivery.next_attempt_at > previous
        previous = delivery.next_attempt_at
        clock.set(delivery.next_attempt_at)
    assert (await _deliver(session_factory, push_sender, clock, max_attempts=3)).failed == 1
    delivery = await _delivery(session_factory, notification_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 500)
    assert await _attempts(session_factory, delivery.id) == [("retry", 500)] * 3
    async with session_factory() as session:
        assert (await session.get(Notification, notification_id)).status == "failed"  # type: ignore[union-attr]


async def test_a_hanging_push_service_times_out_and_is_retried(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    loopback.behave(Behaviour(hang_seconds=3), times=1)  # past the test sender's 1 s timeout
    notification_id = await _enqueue(session_factory, user.user_id, clock.now())
    assert (await _deliver(session_factory, push_sender, clock)).retried == 1
    delivery = await _delivery(session_factory, notification_id)
    assert (
        delivery.status == "pending"
        and delivery.last_error is not None
        and "no answer" in delivery.last_error
    )
    clock.set(delivery.next_attempt_at)
    assert (await _deliver(session_factory, push_sender, clock)).delivered == 1
    assert len(loopback.received) == 1


async def test_an_expired_notification_is_never_sent(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    notification_id = await _enqueue(
        session_factory, user.user_id, clock.now(), expires_at=clock.now() + timedelta(hours=1)
    )
    clock.advance(hours=2)  # the sweeper was down past the prompt's day
    assert (await _deliver(session_factory, push_sender, clock)).expired == 1
    assert loopback.attempts == []
    assert (await _delivery(session_factory, notification_id)).status == "expired"
    async with session_factory() as session:
        assert (await session.get(Notification, notification_id)).status == "expired"  # type: ignore[union-attr]


async def test_a_retry_that_would_land_after_the_deadline_expires_instead(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    loopback.behave(Behaviour(429, retry_after="3600"), times=1)
    notification_id = await _enqueue(
        session_factory, user.user_id, clock.now(), expires_at=clock.now() + timedelta(minutes=30)
    )
    assert (await _deliver(session_factory, push_sender, clock)).expired == 1
    assert (await _delivery(session_factory, notification_id)).status == "expired"


async def test_two_workers_never_send_the_same_delivery(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    ids = {await _enqueue(session_factory, user.user_id, clock.now(), tag=f"t{i}") for i in range(60)}
    reports = await asyncio.gather(
        *(
            _deliver(session_factory, push_sender, clock, worker_id=f"w{n}", limit=25, concurrency=8)
            for n in range(4)
        )
    )
    while sum(r.claimed for r in reports) < len(ids):  # 4 x 25 >= 60, but a loser may claim 0
        reports.append(await _deliver(session_factory, push_sender, clock, worker_id="w-late"))
    assert sum(r.claimed for r in reports) == sum(r.delivered for r in reports) == len(ids)
    arrived = Counter(push.json()["id"] for push in loopback.received)
    assert set(arrived) == {str(i) for i in ids} and set(arrived.values()) == {1}


class _KilledAfterSend(PushSender):
    """A worker that sends, then dies before recording (SIGKILL between the POST and the UPDATE)."""

    def __init__(self, real: PushSender) -> None:
        self._real = real

    @property
    def timeout(self) -> float:
        return self._real.timeout

    async def send(self, message: PushMessage, now: datetime) -> SendResult:
        await self._real.send(message, now)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_killed_workers_lease_expires_and_another_worker_sends_again(
    session_factory: SessionFactory,
    push_sender: PushSender,
    clock: FixedClock,
    loopback: FakePushService,
    graduate: tuple[Principal, FakeSubscription],
) -> None:
    user, _ = graduate
    notification_id = await _enqueue(session_factory, user.user_id, clock.now())
    doomed = asyncio.create_task(
        _deliver(session_factory, _KilledAfterSend(push_sender), clock, worker_id="dead")
    )
    await loopback.wait_for(1)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    held = await _delivery(session_factory, notification_id)
    assert (held.status, held.lease_owner) == ("pending", "dead")
    assert (await _deliver(session_factory, push_sender, clock, worker_id="alive")).claimed == 0  # lease held
    assert held.lease_until is not None
    clock.set(held.lease_until + timedelta(seconds=1))
    report = await _deliver(session_factory, push_sender, clock, worker_id="alive")
    assert (report.claimed, report.delivered) == (1, 1)
    first, second = loopback.received
    assert first.json()["id"] == second.json()["id"] == str(notification_id)  # the device drops the repeat
    assert await _attempts(session_factory, held.id) == [("sending", None), ("delivered", 201)]
