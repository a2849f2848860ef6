"""Failed sign-ins are limited per account and per client address: 429 with Retry-After.

The Redis counter runs against the machine's Redis (``AFTERCARE_TEST_REDIS_URL``, else
redis://127.0.0.1:6379/15); when that variable is set, an unreachable Redis fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.app import create_app
from aftercare.clock import FixedClock
from aftercare.config import Settings
from tests.conftest import PASSWORD, Program

REDIS_URL = os.environ.get("AFTERCARE_TEST_REDIS_URL")
COUNTERS = ["memory", "redis"]


async def _redis_reachable(url: str) -> bool:
    from redis.asyncio import Redis

    redis = Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await redis.ping())
    except OSError:
        return False
    finally:
        await redis.aclose()


@pytest.fixture(params=COUNTERS)
async def limited_app(
    request: pytest.FixtureRequest, settings: Settings, clock: FixedClock, engine: AsyncEngine
) -> AsyncIterator[Litestar]:
    redis_url = None
    if request.param == "redis":
        redis_url = REDIS_URL or "redis://127.0.0.1:6379/15"
        if not await _redis_reachable(redis_url):
            if REDIS_URL:
                pytest.fail(f"AFTERCARE_TEST_REDIS_URL={REDIS_URL} is set but Redis does not answer")
            pytest.skip("no Redis at redis://127.0.0.1:6379/15 and AFTERCARE_TEST_REDIS_URL is not set")
    limited = replace(
        settings,
        redis_url=redis_url,
        login_failures_per_account=3,
        login_failures_per_address=5,
        trusted_proxies=("127.0.0.1",),
    )
    app = create_app(limited, clock=clock, engine=engine)
    yield app
    # What the app's shutdown does for its counter (its lifespan's task group cannot span the
    # fixture's setup and teardown tasks).
    limits = await app.dependencies["login_limits"]()
    await limits.counter.close()


@pytest.fixture
async def client(limited_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=limited_app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http


@pytest.fixture
def program(client: httpx.AsyncClient, limited_app: Litestar, clock: FixedClock) -> Program:
    return Program(client, limited_app, clock)  # type: ignore[arg-type]


def _address() -> dict[str, str]:
    """A fresh client address per test (through a trusted proxy), so Redis counters of earlier runs
    never leak in."""
    return {
        "X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    }


async def _sign_in(program: Program, email: str, password: str, headers: dict[str, str]) -> Any:
    return await program.client.post(
        "/v1/auth/token", json={"email": email, "password": password}, headers=headers
    )


def _assert_429(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(response.headers["retry-after"]) <= 900


async def test_failed_logins_are_limited_per_account(program: Program) -> None:
    supervisor = await program.supervisor()
    for _ in range(3):
        assert (await _sign_in(program, supervisor.email, "wrong-" + PASSWORD, _address())).status_code == 401
    # Even the right password waits: the account is under attack.
    _assert_429(await _sign_in(program, supervisor.email, PASSWORD, _address()))
    _assert_429(await _sign_in(program, supervisor.email.upper(), PASSWORD, _address()))


async def test_failed_logins_are_limited_per_address(program: Program) -> None:
    supervisor = await program.supervisor()
    address = _address()
    for n in range(5):
        response = await _sign_in(
            program, f"nobody-{n}-{uuid.uuid4().hex}@example.org", "wrong-" + PASSWORD, address
        )
        assert response.status_code == 401
    _assert_429(await _sign_in(program, supervisor.email, PASSWORD, address))
    # Another address is not affected.
    assert (await _sign_in(program, supervisor.email, PASSWORD, _address())).status_code == 200


async def test_a_success_clears_the_account_counter(program: Program) -> None:
    supervisor = await program.supervisor()
    for _ in range(2):
        assert (await _sign_in(program, supervisor.email, "wrong-" + PASSWORD, _address())).status_code == 401
    assert (await _sign_in(program, supervisor.email, PASSWORD, _address())).status_code == 200
    for _ in range(2):
        assert (await _sign_in(program, supervisor.email, "wrong-" + PASSWORD, _address())).status_code == 401
    assert (await _sign_in(program, supervisor.email, PASSWORD, _address())).status_code == 200
