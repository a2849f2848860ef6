"""The NOTIFY wake-up of the alert event poller on PostgreSQL (SQLite has none: it only polls).

The hub here polls once a minute, so an event that reaches a subscription within two seconds came by
its wake-up. Alerts are made the quickest real way: "help now" opens one, acknowledging it is another
event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.alerts.stream import AlertEventHub, StreamConfig, Subscription
from aftercare.db.engine import make_session_factory
from tests.checkins.conftest import Cast

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # collected only with PostgreSQL

WAKE = 2.0  # well under the hub's poll interval


@pytest.fixture
async def hub(engine: AsyncEngine) -> AsyncIterator[AlertEventHub]:
    hub = AlertEventHub(make_session_factory(engine), StreamConfig(poll_seconds=60))
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


async def listener_pid(hub: AlertEventHub, *, other_than: int | None = None, within: float = 5.0) -> int:
    """The server pid of the hub's LISTEN connection, once there is one (other than ``other_than``)."""
    assert hub.listener is not None
    deadline = time.monotonic() + within
    while (pid := hub.listener.server_pid) is None or pid == other_than:
        assert time.monotonic() < deadline, "the listener did not (re)connect"
        await asyncio.sleep(0.05)
    return pid


async def backend_alive(engine: AsyncEngine, pid: int) -> bool:
    async with engine.connect() as connection:
        return bool(
            await connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
        )


async def wait_gone(engine: AsyncEngine, pid: int, within: float = 5.0) -> None:
    """A closed connection's server process exits a moment after the client lets go."""
    deadline = time.monotonic() + within
    while await backend_alive(engine, pid):
        assert time.monotonic() < deadline, f"server process {pid} is still there"
        await asyncio.sleep(0.05)


async def woken(subscription: Subscription) -> None:
    batch = await subscription.next(WAKE)
    assert batch is not None, "no wake-up: the event would have waited for the minute's poll"
    assert len(batch) == 1


async def test_a_notify_wakes_the_hub_and_stop_closes_the_listener(
    engine: AsyncEngine, hub: AlertEventHub, cast: Cast
) -> None:
    pid = await listener_pid(hub)
    with hub.subscribe() as subscription:
        response = await cast.program.client.post(
            f"/v1/graduates/{cast.gid}/help",
            headers=cast.graduate.headers,
            json={"client_id": "0192f6a0-0000-7000-8000-0000000000a1"},
        )
        assert response.status_code == 201, response.text
        await woken(subscription)
    await hub.stop()
    assert hub.listener is None
    await wait_gone(engine, pid)


async def test_the_listener_reconnects_after_its_connection_is_killed(
    engine: AsyncEngine, hub: AlertEventHub, cast: Cast
) -> None:
    first = await listener_pid(hub)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    second = await listener_pid(hub, other_than=first)
    assert await backend_alive(engine, second)
    await wait_gone(engine, first)
    with hub.subscribe() as subscription:
        response = await cast.program.client.post(
            f"/v1/graduates/{cast.gid}/help",
            headers=cast.graduate.headers,
            json={"client_id": "0192f6a0-0000-7000-8000-0000000000a2"},
        )
        assert response.status_code == 201, response.text
        await woken(subscription)
        acknowledged = await cast.program.client.post(
            f"/v1/alerts/{response.json()['alert_id']}/acknowledge", headers=cast.counselor.headers
        )
        assert acknowledged.status_code == 200, acknowledged.text
        await woken(subscription)
