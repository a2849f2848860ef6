"""Fixtures for anything that pushes: a started loopback push service, an allow-list that admits it,
VAPID keys and a signer, one shared aiohttp session and a PushSender with a short timeout.

``push_service`` (system clock) and ``await start_push_service(clock)`` give a started
``tests.fakes.push_service.FakePushService``; its module docstring shows ``new_subscription``,
``wait_for``, ``behave`` and ``attempts``. Tests outside tests/push can import these fixtures with
``from tests.push.conftest import *`` in their own conftest, or the lead may move them up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import aiohttp
import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.db.engine import make_session_factory
from aftercare.db.types import uuid7
from aftercare.push.endpoints import DEFAULT_PUSH_ORIGINS
from aftercare.push.models import Delivery
from aftercare.push.vapid import VapidKeys, VapidSigner, generate_keys
from aftercare.push.webpush import PushSender, open_session
from tests.fakes.push_service import FakePushService

VAPID_SUBJECT = "mailto:ops@aftercare.example"
# Long enough for a loaded CI machine to answer on loopback, short enough for the hang tests.
TEST_SEND_TIMEOUT = 1.0


StartPushService = Callable[[Clock | None], Awaitable[FakePushService]]


@pytest.fixture
async def start_push_service() -> AsyncIterator[StartPushService]:
    """``await start_push_service(clock)``: a started service judging VAPID ``exp`` by ``clock``
    (None: the system clock); stopped after the test."""
    started: list[FakePushService] = []

    async def start(clock: Clock | None = None) -> FakePushService:
        service = FakePushService(clock=clock)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@pytest.fixture
async def push_service(start_push_service: StartPushService) -> FakePushService:
    return await start_push_service(None)


@pytest.fixture
def push_origins(push_service: FakePushService) -> tuple[str, ...]:
    return (*DEFAULT_PUSH_ORIGINS, push_service.origin)


@pytest.fixture(scope="session")
def vapid_keys() -> VapidKeys:
    return generate_keys()


@pytest.fixture
def vapid_signer(vapid_keys: VapidKeys) -> VapidSigner:
    return VapidSigner(vapid_keys, VAPID_SUBJECT)


@pytest.fixture
async def push_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session() as session:
        yield session


@pytest.fixture
def push_sender(push_session: aiohttp.ClientSession, vapid_signer: VapidSigner) -> PushSender:
    return PushSender(push_session, vapid_signer, timeout=TEST_SEND_TIMEOUT)


# -- database-backed push tests ------------------------------------------------------------------

MakeUser = Callable[..., Awaitable[Principal]]


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
def make_user(session_factory: async_sessionmaker[AsyncSession]) -> MakeUser:
    """``await make_user(role="counselor", now=...)``: a user row and the Principal that acts as it."""

    async def make(*, now: datetime, role: str = "graduate") -> Principal:
        user_id = uuid7()
        async with session_factory() as session, session.begin():
            await session.execute(
                insert(User).values(
                    id=user_id,
                    email=f"push-{user_id.hex}@example.org",
                    password_hash="-",
                    role=role,
                    display_name="Push test",
                    active=True,
                    created_at=now,
                )
            )
        return Principal(user_id=user_id, role=role, graduate_id=uuid.uuid4() if role == "graduate" else None)

    return make


@pytest.fixture
async def quiet_outbox(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """The database is shared by the whole run: park deliveries other tests left pending so a
    ``deliver_due`` here claims only this test's."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.status == "pending")
            .values(status="failed", last_error="parked by a test")
        )
