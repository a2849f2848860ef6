"""Failed sign-ins and enrollments are limited so an attacker is slowed and cannot aim a lockout
(auth/ratelimit.py has the policy): both sides of each rule, 429 with Retry-After.

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
        login_max_delay_seconds=4,
        login_failures_per_address=8,
        enroll_failures_per_prefix=3,
        enroll_failures_per_address=6,
        trusted_proxies=("127.0.0.1",),
    )
    app = create_app(limited, clock=clock, engine=engine)
    yield app
    # What the app's shutdown does for its counter (its lifespan's task group cannot span the
    # fixture's setup and teardown tasks).
    limits = await app.dependencies["login_limits"]()
    await limits.store.close()


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


def _assert_429(response: Any, retry_after: int | None = None) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(response.headers["retry-after"]) <= 900
    if retry_after is not None:
        assert int(response.headers["retry-after"]) == retry_after, response.text


WRONG = "wrong-" + PASSWORD


async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(program: Program, clock: FixedClock) -> None:
    """The issue's finding: five wrong passwords used to lock any known account for 15 minutes, the
    right password included. Now failures from other addresses never hold the owner back, and the
    owner's success resets the account's count."""
    supervisor = await program.supervisor()
    attacker = _address()
    for _ in range(3):
        assert (await _sign_in(program, supervisor.email, WRONG, attacker)).status_code == 401
    for _ in range(4):  # more failures, from more addresses
        assert (await _sign_in(program, supervisor.email, WRONG, _address())).status_code == 401
    _assert_429(await _sign_in(program, supervisor.email, WRONG, attacker))  # the attacker waits
    owner = _address()
    assert (await _sign_in(program, supervisor.email, PASSWORD, owner)).status_code == 200  # at once
    assert (await _sign_in(program, supervisor.email, PASSWORD, owner)).status_code == 200
    # The success reset the account: the attacker's address starts from the free tries again.
    clock.advance(seconds=1)
    assert (await _sign_in(program, supervisor.email, WRONG, attacker)).status_code == 401


async def test_an_address_that_failed_waits_doubling_delays(program: Program, clock: FixedClock) -> None:
    """After the account's free failures (3 here), an address that failed for it waits 1, 2, 4 s
    (doubling, at most 4 here) after its last failure before its next try is checked at all, the
    right password included; once it has waited, the right password works."""
    supervisor = await program.supervisor()
    address = _address()
    for _ in range(3):
        assert (await _sign_in(program, supervisor.email, WRONG, address)).status_code == 401
    for delay in (1, 2, 4, 4):
        _assert_429(await _sign_in(program, supervisor.email, WRONG, address), retry_after=delay)
        _assert_429(await _sign_in(program, supervisor.email, PASSWORD, address), retry_after=delay)
        clock.advance(seconds=delay - 0.5)
        _assert_429(await _sign_in(program, supervisor.email, WRONG, address), retry_after=1)
        clock.advance(seconds=0.5)
        assert (await _sign_in(program, supervisor.email, WRONG, address)).status_code == 401
    clock.advance(seconds=4)
    assert (await _sign_in(program, supervisor.email, PASSWORD, address)).status_code == 200
    # ... which reset the account: this address's next failure is checked at once (its eighth,
    # which the hard limit per address still allows).
    assert (await _sign_in(program, supervisor.email, WRONG, address)).status_code == 401
    _assert_429(await _sign_in(program, supervisor.email, PASSWORD, address))  # now the address limit


async def test_failed_logins_are_limited_per_address(program: Program) -> None:
    """The hard limit: 8 failures from one address (any accounts) and every sign-in from it waits
    for the window, the right password of another account included; other addresses are not affected."""
    supervisor = await program.supervisor()
    address = _address()
    for n in range(8):
        response = await _sign_in(program, f"nobody-{n}-{uuid.uuid4().hex}@example.org", WRONG, address)
        assert response.status_code == 401
    _assert_429(await _sign_in(program, supervisor.email, PASSWORD, address))
    assert (await _sign_in(program, supervisor.email, PASSWORD, _address())).status_code == 200


async def test_a_success_clears_the_account_counter(program: Program) -> None:
    supervisor = await program.supervisor()
    address = _address()
    for _ in range(2):
        assert (await _sign_in(program, supervisor.email, WRONG, address)).status_code == 401
    assert (await _sign_in(program, supervisor.email, PASSWORD, address)).status_code == 200
    for _ in range(2):
        assert (await _sign_in(program, supervisor.email, WRONG, address)).status_code == 401
    assert (await _sign_in(program, supervisor.email, PASSWORD, address)).status_code == 200


async def _new_code(program: Program, counselor: Any) -> str:
    response = await program.client.post(
        "/v1/graduates", headers=counselor.headers, json={"display_name": "G", "timezone": "America/Chicago"}
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["enrollment_code"]
    return code


async def _enroll(program: Program, code: str, headers: dict[str, str]) -> Any:
    return await program.client.post(
        "/v1/auth/enroll",
        json={"enrollment_code": code, "email": f"g-{uuid.uuid4().hex}@example.org", "password": PASSWORD},
        headers=headers,
    )


def _other_code(code: str, *, keep_prefix: bool) -> str:
    """A code that was never issued: the same first group with another second, or vice versa."""
    from aftercare.auth.tokens import new_enrollment_code

    made = new_enrollment_code()
    return f"{code[:5]}-{made[6:]}" if keep_prefix else f"{made[:5]}-{code[6:]}"


async def test_enrollment_guesses_are_limited_per_code_prefix(program: Program) -> None:
    """Someone who saw the first half of a code cannot try the rest: 3 failures with one prefix
    (from any addresses) and codes starting so wait, the real one too. Other codes are untouched."""
    counselor = await program.staff(await program.supervisor())
    seen, other = await _new_code(program, counselor), await _new_code(program, counselor)
    for _ in range(3):
        assert (await _enroll(program, _other_code(seen, keep_prefix=True), _address())).status_code == 401
    _assert_429(await _enroll(program, seen, _address()))
    assert (await _enroll(program, other, _address())).status_code == 201


async def test_one_address_failing_enrollments_blocks_only_itself(program: Program) -> None:
    """A clinic's shared address with a few typos still enrolls; a guessing address hits its limit
    (6 here) and then waits, while every other address and every sign-in from it go on."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    clinic = _address()
    code = await _new_code(program, counselor)
    for _ in range(2):  # typos, in the second group
        assert (await _enroll(program, _other_code(code, keep_prefix=False), clinic)).status_code == 401
    assert (await _enroll(program, code, clinic)).status_code == 201
    guesser = _address()
    for _ in range(6):
        assert (await _enroll(program, _other_code(code, keep_prefix=False), guesser)).status_code == 401
    waiting = await _new_code(program, counselor)
    _assert_429(await _enroll(program, waiting, guesser))
    assert (await _enroll(program, waiting, _address())).status_code == 201
    # Enrollment failures are not sign-in failures.
    assert (await _sign_in(program, supervisor.email, PASSWORD, guesser)).status_code == 200


async def test_an_unreachable_redis_is_503_not_500(
    settings: Settings, clock: FixedClock, engine: AsyncEngine
) -> None:
    """Sign-in cannot be limited without its counters: it answers 503 with Retry-After (failing
    open would let whoever can disturb Redis guess passwords unthrottled)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{port}/0"), clock=clock, engine=engine)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/v1/auth/token", json={"email": "a@example.org", "password": PASSWORD})
    limits = await app.dependencies["login_limits"]()
    await limits.store.close()
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0


async def test_wrong_current_passwords_are_403_then_limited_like_sign_in(
    program: Program, clock: FixedClock
) -> None:
    """``POST /v1/me/password`` with a wrong current password: 403 ``/problems/wrong-password``, each
    counted against the account as a failed sign-in, so a stolen access token buys no more guesses
    than the sign-in form: after the free failures (3 here) 429 with Retry-After, the right password
    included, until the wait is over; the password is unchanged throughout."""
    supervisor = await program.supervisor()
    address = _address()
    headers = {**supervisor.headers, **address}

    async def change(current: str) -> Any:
        return await program.client.post(
            "/v1/me/password",
            headers=headers,
            json={"current_password": current, "new_password": "a new and long passphrase"},
        )

    for _ in range(3):
        refused = await change(WRONG)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "/problems/wrong-password"
    _assert_429(await change(WRONG), retry_after=1)
    _assert_429(await change(PASSWORD), retry_after=1)
    # The same budget as the sign-in form: from this address the account's sign-in waits too.
    _assert_429(await _sign_in(program, supervisor.email, PASSWORD, address), retry_after=1)
    clock.advance(seconds=1)
    changed = await change(PASSWORD)
    assert changed.status_code == 200, changed.text
    assert (
        await _sign_in(program, supervisor.email, "a new and long passphrase", _address())
    ).status_code == 200
