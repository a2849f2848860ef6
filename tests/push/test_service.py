"""Subscriptions, the inbox and the payload, through the service on a real database (both engines)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.errors import NotFound, ValidationFailed
from aftercare.push import schemas, service
from aftercare.push.models import Delivery, Notification, PushSubscription
from tests.fakes.push_service import FakePushService, FakeSubscription
from tests.push.conftest import MakeUser

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
SessionFactory = async_sessionmaker[AsyncSession]


def _body(sub: FakeSubscription, **overrides: object) -> schemas.SubscriptionCreate:
    fields = {"endpoint": sub.endpoint, "p256dh": sub.p256dh, "auth": sub.auth, **overrides}
    return schemas.SubscriptionCreate(
        endpoint=str(fields["endpoint"]),
        keys=schemas.SubscriptionKeys(p256dh=str(fields["p256dh"]), auth=str(fields["auth"])),
    )


async def _subscribe(
    session_factory: SessionFactory,
    principal: object,
    body: schemas.SubscriptionCreate,
    origins: tuple[str, ...],
) -> uuid.UUID:
    async with session_factory() as session:
        created = await service.subscribe(session, principal, body, allowed_origins=origins, now=T0)  # type: ignore[arg-type]
    return created.id


async def _enqueue(session_factory: SessionFactory, user_id: uuid.UUID, **overrides: object) -> uuid.UUID:
    fields: dict[str, object] = {
        "kind": "checkin_prompt",
        "title": "Daily check-in",
        "body": "How was today?",
        "url": "/checkin",
        "tag": "checkin-2026-11-24",
        "ref_id": "2026-11-24",
        "urgency": "normal",
        "expires_at": T0 + timedelta(hours=6),
        "topic": None,
        "now": T0,
        **overrides,
    }
    now = fields.pop("now")
    spec = service.NotificationSpec(user_id=user_id, **fields)  # type: ignore[arg-type]
    async with session_factory() as session, session.begin():
        [notification_id] = await service.enqueue_notifications(session, [spec], now=now)  # type: ignore[arg-type]
    return notification_id


async def test_subscribe_stores_and_same_endpoint_updates(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    user = await make_user(now=T0)
    sub = push_service.new_subscription()
    first = await _subscribe(session_factory, user, _body(sub), push_origins)
    fresh = push_service.new_subscription()  # the browser rotated its keys, same endpoint
    again = await _subscribe(
        session_factory, user, _body(sub, p256dh=fresh.p256dh, auth=fresh.auth), push_origins
    )
    assert again == first
    async with session_factory() as session:
        row = await session.get(PushSubscription, first)
    assert row is not None and (row.user_id, row.p256dh, row.auth) == (user.user_id, fresh.p256dh, fresh.auth)


@pytest.mark.parametrize(
    ("endpoint", "p256dh", "auth", "fields"),
    [
        ("https://evil.example/push/1", None, None, {"endpoint"}),
        ("http://10.0.0.5/push/1", None, None, {"endpoint"}),
        (None, "BAAA", None, {"keys.p256dh"}),
        (None, None, "c2hvcnQ", {"keys.auth"}),
        ("https://user@fcm.googleapis.com/fcm/send/x", "nope!", "", {"endpoint", "keys.p256dh", "keys.auth"}),
    ],
)
async def test_subscribe_refuses_what_it_must_never_call_or_cannot_encrypt_for(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
    endpoint: str | None,
    p256dh: str | None,
    auth: str | None,
    fields: set[str],
) -> None:
    user = await make_user(now=T0)
    sub = push_service.new_subscription()
    overrides = {
        k: v for k, v in {"endpoint": endpoint, "p256dh": p256dh, "auth": auth}.items() if v is not None
    }
    with pytest.raises(ValidationFailed) as raised:
        await _subscribe(session_factory, user, _body(sub, **overrides), push_origins)
    assert {e.field for e in raised.value.errors} == fields


async def test_loopback_is_refused_unless_allow_listed(
    session_factory: SessionFactory, make_user: MakeUser, push_service: FakePushService
) -> None:
    from aftercare.push.endpoints import DEFAULT_PUSH_ORIGINS

    user = await make_user(now=T0)
    with pytest.raises(ValidationFailed) as raised:
        await _subscribe(session_factory, user, _body(push_service.new_subscription()), DEFAULT_PUSH_ORIGINS)
    assert [e.field for e in raised.value.errors] == ["endpoint"]


async def test_same_endpoint_moves_to_the_new_user_and_drops_the_old_users_queue(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    first, second = await make_user(now=T0), await make_user(now=T0)
    sub = push_service.new_subscription()  # one shared tablet
    sub_id = await _subscribe(session_factory, first, _body(sub), push_origins)
    queued = await _enqueue(session_factory, first.user_id)
    assert await _subscribe(session_factory, second, _body(sub), push_origins) == sub_id
    async with session_factory() as session:
        row = await session.get(PushSubscription, sub_id)
        delivery = (await session.scalars(select(Delivery).where(Delivery.notification_id == queued))).one()
        notification = await session.get(Notification, queued)
    assert row is not None and row.user_id == second.user_id
    assert delivery.status == "gone"
    assert notification is not None and notification.status == "failed"  # still in the first user's inbox


async def test_unsubscribe_owner_only(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    owner, other = await make_user(now=T0), await make_user(now=T0, role="counselor")
    sub_id = await _subscribe(session_factory, owner, _body(push_service.new_subscription()), push_origins)
    async with session_factory() as session:
        with pytest.raises(NotFound):
            await service.unsubscribe(session, other, sub_id, now=T0)
        await service.unsubscribe(session, owner, sub_id, now=T0)
        with pytest.raises(NotFound):
            await service.unsubscribe(session, owner, sub_id, now=T0)
        assert await session.get(PushSubscription, sub_id) is None


async def test_enqueue_writes_inbox_and_one_delivery_per_subscription(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    user, lonely = await make_user(now=T0), await make_user(now=T0)
    for _ in range(2):  # phone and laptop
        await _subscribe(session_factory, user, _body(push_service.new_subscription()), push_origins)
    both = await _enqueue(session_factory, user.user_id)
    nobody = await _enqueue(session_factory, lonely.user_id)
    quiet = await _enqueue(session_factory, user.user_id, status="skipped_quiet_hours")
    stale = await _enqueue(session_factory, user.user_id, expires_at=T0 - timedelta(minutes=1))
    async with session_factory() as session:
        statuses = {
            n.id: n.status
            for n in await session.scalars(
                select(Notification).where(Notification.id.in_([both, nobody, quiet, stale]))
            )
        }
        deliveries = (
            await session.scalars(
                select(Delivery).where(Delivery.notification_id.in_([both, nobody, quiet, stale]))
            )
        ).all()
    assert statuses == {
        both: "pending",
        nobody: "no_subscription",
        quiet: "skipped_quiet_hours",
        stale: "expired",
    }
    assert [(d.notification_id, d.status, d.attempts) for d in deliveries] == [(both, "pending", 0)] * 2


@pytest.mark.parametrize(
    "overrides",
    [{"kind": "newsletter"}, {"urgency": "urgent"}, {"title": "x" * 121}, {"topic": "has spaces"}],
)
async def test_enqueue_refuses_a_callers_bug(
    session_factory: SessionFactory, make_user: MakeUser, overrides: dict[str, object]
) -> None:
    user = await make_user(now=T0)
    with pytest.raises(ValueError):
        await _enqueue(session_factory, user.user_id, **overrides)


async def test_inbox_pages_newest_first_with_delivery_status(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    user = await make_user(now=T0)
    await _subscribe(session_factory, user, _body(push_service.new_subscription()), push_origins)
    ids = [
        await _enqueue(session_factory, user.user_id, now=T0 + timedelta(minutes=i), tag=f"t{i}")
        for i in range(3)
    ]
    async with session_factory() as session:
        first = await service.list_notifications(session, user, limit=2, cursor=None)
        second = await service.list_notifications(session, user, limit=2, cursor=first.next_cursor)
    assert [n.id for n in first.items + second.items] == ids[::-1]
    assert first.next_cursor is not None and second.next_cursor is None
    [delivery] = first.items[0].deliveries
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "pending",
        0,
        T0 + timedelta(minutes=2),
    )


def test_payload_carries_only_what_the_caller_gave() -> None:
    alert_id, notification_id = uuid.uuid4(), uuid.uuid4()
    payload = service.payload_for(
        kind="alert",
        title="New high alert",
        body="Open the console to review it",
        url=f"/console/alerts/{alert_id}",
        tag=f"alert-{alert_id}",
        notification_id=notification_id,
    )
    assert json.loads(payload) == {
        "type": "alert",
        "title": "New high alert",
        "body": "Open the console to review it",
        "url": f"/console/alerts/{alert_id}",
        "tag": f"alert-{alert_id}",
        "id": str(notification_id),
    }


async def _outbox_of(session_factory: SessionFactory, users: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """Everything the inbox and outbox hold for ``users``, ids left out (they are fresh each time)."""
    async with session_factory() as session:
        notifications = (
            await session.scalars(select(Notification).where(Notification.user_id.in_(users)))
        ).all()
        deliveries = (
            await session.scalars(
                select(Delivery).where(Delivery.notification_id.in_([n.id for n in notifications]))
            )
        ).all()
    return sorted(
        (
            n.user_id,
            n.kind,
            n.title,
            n.body,
            n.url,
            n.tag,
            n.ref_id,
            n.urgency,
            n.topic,
            n.expires_at,
            n.created_at,
            n.status,
            n.delivered_at,
            tuple(
                sorted(
                    (d.subscription_id, d.status, d.attempts, d.next_attempt_at, d.lease_owner)
                    for d in deliveries
                    if d.notification_id == n.id
                )
            ),
        )
        for n in notifications
    )


async def test_the_batch_path_writes_what_the_single_path_writes(
    session_factory: SessionFactory,
    make_user: MakeUser,
    push_service: FakePushService,
    push_origins: tuple[str, ...],
) -> None:
    two_devices, no_device = await make_user(now=T0), await make_user(now=T0)
    for _ in range(2):
        await _subscribe(session_factory, two_devices, _body(push_service.new_subscription()), push_origins)
    base = {
        "kind": "checkin_prompt",
        "body": "How was today?",
        "url": "/checkin",
        "tag": "t",
        "ref_id": "r",
        "urgency": "normal",
        "expires_at": T0 + timedelta(hours=6),
        "topic": None,
    }
    specs = [
        service.NotificationSpec(user_id=two_devices.user_id, title="pushed to both devices", **base),  # type: ignore[arg-type]
        service.NotificationSpec(user_id=no_device.user_id, title="inbox only", **base),  # type: ignore[arg-type]
        service.NotificationSpec(
            user_id=two_devices.user_id, title="quiet hours", status="skipped_quiet_hours", **base
        ),  # type: ignore[arg-type]
        service.NotificationSpec(user_id=two_devices.user_id, title="too late", **{**base, "expires_at": T0}),  # type: ignore[arg-type]
    ]
    users = [two_devices.user_id, no_device.user_id]

    single_ids = []
    for spec in specs:
        single_ids.append(
            await _enqueue(
                session_factory,
                spec.user_id,
                **{
                    name: getattr(spec, name)
                    for name in service.NotificationSpec.__struct_fields__
                    if name != "user_id"
                },
            )
        )
    single = await _outbox_of(session_factory, users)
    async with session_factory() as session, session.begin():
        await session.execute(delete(Delivery).where(Delivery.notification_id.in_(single_ids)))
        await session.execute(delete(Notification).where(Notification.id.in_(single_ids)))
    async with session_factory() as session, session.begin():
        batch_ids = await service.enqueue_notifications(session, specs, now=T0)
    batch = await _outbox_of(session_factory, users)

    assert batch == single
    assert [s[11] for s in sorted(batch, key=lambda row: str(row[2]))] == [
        "no_subscription",
        "pending",
        "skipped_quiet_hours",
        "expired",
    ]
    assert sum(len(row[-1]) for row in batch) == 2  # the pending one, to both devices
    async with session_factory() as session:  # ids come back in the order of the specs
        titles = {
            n.id: n.title
            for n in (await session.scalars(select(Notification).where(Notification.id.in_(batch_ids)))).all()
        }
    assert [titles[i] for i in batch_ids] == [spec.title for spec in specs]


async def test_a_bad_item_fails_the_whole_batch_before_anything_is_written(
    session_factory: SessionFactory, make_user: MakeUser
) -> None:
    user = await make_user(now=T0)
    good = service.NotificationSpec(
        user_id=user.user_id,
        kind="checkin_prompt",
        title="ok",
        body="b",
        url=None,
        tag=None,
        ref_id=None,
        urgency="normal",
        expires_at=T0 + timedelta(hours=1),
        topic=None,
    )
    with pytest.raises(ValueError, match="urgency"):
        async with session_factory() as session, session.begin():
            await service.enqueue_notifications(
                session, [good, msgspec.structs.replace(good, urgency="loud")], now=T0
            )
    assert await _outbox_of(session_factory, [user.user_id]) == []
