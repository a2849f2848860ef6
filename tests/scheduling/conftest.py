"""Fixtures for the schedule rows and the sweeper: graduates written straight to the database (the
API's own path is covered in test_routes.py), a plan written through the plans service, and helpers
that read the rows and the inbox back.

``fresh`` empties ``schedules`` and ``leases`` first: the database is shared by the whole session,
and a sweep must only see this test's rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.db.engine import make_session_factory
from aftercare.db.types import uuid7
from aftercare.graduates.models import Graduate
from aftercare.plans import service as plans
from aftercare.plans.reads import current_plan_body
from aftercare.plans.schemas import PlanBody
from aftercare.program.service import current_rules
from aftercare.push.models import Delivery, Notification, PushSubscription
from aftercare.scheduling.models import Lease, Schedule
from aftercare.scheduling.service import replan_graduate
from tests.fakes.push_service import FakePushService
from tests.push.conftest import push_sender, push_session, start_push_service, vapid_keys, vapid_signer

# The push slice's fixtures: the loopback push service and a sender that signs with test keys.
__all__ = ["push_sender", "push_session", "start_push_service", "vapid_keys", "vapid_signer"]

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def fresh(engine: AsyncEngine) -> Factory:
    factory = make_session_factory(engine)
    async with factory() as session, session.begin():
        await session.execute(delete(Schedule))
        await session.execute(delete(Lease))
    return factory


async def add_user(factory: Factory, *, role: str, now: datetime) -> uuid.UUID:
    user_id = uuid7()
    async with factory() as session, session.begin():
        await session.execute(
            insert(User).values(
                id=user_id,
                email=f"{role}-{user_id.hex}@example.org",
                password_hash="x",
                role=role,
                display_name=role,
                active=True,
                created_at=now,
            )
        )
    return user_id


async def add_graduate(
    factory: Factory,
    *,
    now: datetime,
    timezone: str = "America/Chicago",
    checkin_time: str = "19:00",
    quiet: tuple[str, str] | None = ("22:00", "08:00"),
    enrolled: bool = True,
) -> Graduate:
    """A graduate created at ``now`` and planned as ``create_graduate`` does."""
    user_id = await add_user(factory, role="graduate", now=now) if enrolled else None
    graduate = Graduate(
        id=uuid7(),
        user_id=user_id,
        display_name="Grad",
        timezone=timezone,
        checkin_time=checkin_time,
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        status="active",
        created_at=now,
        updated_at=now,
        streak_days=0,
        risk_level="low",
        open_alerts=0,
    )
    async with factory() as session, session.begin():
        session.add(graduate)
        await session.flush()
        await replan(session, graduate.id, now=now)
    return graduate


async def replan(session: AsyncSession, graduate_id: uuid.UUID, *, now: datetime) -> None:
    """Re-plan with the graduate's current plan and the program's nudge, as the services do."""
    await replan_graduate(
        session,
        graduate_id,
        plan=await current_plan_body(session, graduate_id),
        nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
        now=now,
    )


async def change_graduate(factory: Factory, graduate_id: uuid.UUID, *, now: datetime, **values: Any) -> None:
    """A profile change and its re-plan in one transaction, as ``patch_graduate`` does."""
    async with factory() as session, session.begin():
        graduate = await session.get(Graduate, graduate_id, with_for_update=True)
        assert graduate is not None
        for name, value in values.items():
            setattr(graduate, name, value)
        await replan(session, graduate_id, now=now)


async def put_plan(factory: Factory, graduate_id: uuid.UUID, body: dict[str, Any], *, now: datetime) -> None:
    """Store a plan through the plans service, then re-plan (as a plan write that changes a reminder does)."""
    supervisor = Principal(user_id=await add_user(factory, role="supervisor", now=now), role="supervisor")
    async with factory() as session:
        current = await current_plan_body(session, graduate_id)
    async with factory() as session:
        version = (
            None
            if current is None
            else (await plans.get_plan(session, graduate_id, actor=supervisor, now=now)).version
        )
        await plans.put_plan(
            session,
            graduate_id,
            msgspec.convert(body, PlanBody),
            actor=supervisor,
            now=now,
            precondition=plans.Precondition(if_match=None if version is None else plans.etag(version)),
        )
    async with factory() as session, session.begin():
        await replan(session, graduate_id, now=now)


async def rows(factory: Factory, graduate_id: uuid.UUID) -> dict[str, Schedule]:
    async with factory() as session:
        found = await session.scalars(select(Schedule).where(Schedule.graduate_id == graduate_id))
        return {row.stream: row for row in found}


async def inbox(factory: Factory, user_id: uuid.UUID | None) -> list[Notification]:
    async with factory() as session:
        found = await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)
        )
        return list(found)


async def subscribe(
    factory: Factory, push_service: FakePushService, graduate: Graduate, *, now: datetime
) -> None:
    """The graduate's phone subscribes to ``push_service``; deliveries other tests left pending are
    put aside, so the next sweep sends only this test's."""
    assert graduate.user_id is not None
    device = push_service.new_subscription()
    async with factory() as session, session.begin():
        await session.execute(update(Delivery).where(Delivery.status == "pending").values(status="failed"))
        session.add(
            PushSubscription(
                id=uuid.uuid4(),
                user_id=graduate.user_id,
                endpoint=device.endpoint,
                p256dh=device.p256dh,
                auth=device.auth,
                created_at=now,
                updated_at=now,
            )
        )
