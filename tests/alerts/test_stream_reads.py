"""The alert stream's database reads (the poller's batch, where a stream starts, its callers'
accounts) run beside an open write transaction instead of queueing behind it: on SQLite a read that
took the write gate waited for every writer before it, so a busy hour of check-ins delayed every
counselor's live alerts, and at shutdown the poller sat on the gate (RELIABILITY.md, finding 22)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.alerts.stream import AlertEventHub, StreamConfig, last_event_id, read_events
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.db.engine import make_session_factory
from aftercare.staff.service import create_first_user
from tests.conftest import PASSWORD, T0, unique_email

# Far below the SQLite busy timeout a read queued on the write gate would wait for.
BESIDE_A_WRITER_SECONDS = 2.0


async def test_the_streams_reads_do_not_wait_for_an_open_write_transaction(engine: AsyncEngine) -> None:
    factory = make_session_factory(engine)
    async with factory() as session:
        counselor_id = await create_first_user(
            session,
            email=unique_email("stream-reads"),
            password=PASSWORD,
            role="counselor",
            display_name="C",
            now=T0,
        )
    hub = AlertEventHub(factory, StreamConfig())
    counselor = Principal(user_id=counselor_id, role="counselor")
    last = await last_event_id(factory)  # the database is shared with other tests' alerts

    async with factory() as writer, writer.begin():
        # The writer holds the write lock (on SQLite, the gate and BEGIN IMMEDIATE) until it ends.
        await writer.execute(update(User).where(User.id == counselor_id).values(active=False))
        async with asyncio.timeout(BESIDE_A_WRITER_SECONDS):
            assert await last_event_id(factory) == last
            assert await read_events(factory, last, now=T0) == []
            unchanged, _ = await hub.account_unchanged(counselor, read_after=time.monotonic())
    assert unchanged  # the deactivation had not committed: the read saw the committed account
