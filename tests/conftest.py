"""Shared fixtures: a real database per backend, an app with an injected clock, and a small
program (supervisor, two counselors, graduates) to test access against.

Every database test runs on SQLite (a file) and, when ``AFTERCARE_TEST_POSTGRES_URL`` is set, on
PostgreSQL in a fresh schema that is dropped at the end of the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.app import create_app
from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.db.engine import make_engine
from aftercare.db.migrate import migrate

pytest_plugins = ["tests.watchdog"]

POSTGRES_URL = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """argon2id at its production cost takes ~0.4 s a hash; tests make hundreds of accounts.
    The algorithm and the code path stay the same; only the work factor is lowered."""
    from argon2 import PasswordHasher

    from aftercare.auth import passwords

    production = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = production


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("aftercare-data")


@pytest.fixture(scope="session", params=BACKENDS)
async def engine(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[AsyncEngine]:
    settings = Settings(data_dir=data_dir)
    if request.param == "sqlite":
        eng = make_engine(settings, url=f"sqlite+aiosqlite:///{data_dir / 'test.db'}")
        await migrate(eng)
        yield eng
        await eng.dispose()
        return
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(settings, url=POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(settings, url=POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    await migrate(eng)
    yield eng
    await eng.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture
def backend(engine: AsyncEngine) -> str:
    return engine.dialect.name


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Access tokens outlive the days a test moves its clock; expiry has its own tests.
    return Settings(
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        scheduler=False,
        access_token_minutes=60 * 24 * 60,
    )


@pytest.fixture
def app(settings: Settings, clock: FixedClock, engine: AsyncEngine) -> Litestar:
    return create_app(settings, clock=clock, engine=engine)


@asynccontextmanager
async def app_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that runs the app in the test's own event loop (Litestar's AsyncTestClient
    runs it in a portal thread with another loop, which asyncpg connections cannot cross)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # Entered and left in one task: the lifespan's task group must not cross tasks.
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.create_task(run_lifespan())
    # A startup that raises never sets ``started``: wait on the task too, so its error is raised here
    # instead of the test waiting for ever.
    waiting = asyncio.ensure_future(started.wait())
    await asyncio.wait({lifespan, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        waiting.cancel()  # nothing will set ``started`` now
        lifespan.result()
        raise RuntimeError("the app's lifespan ended before it started")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://testserver.local",
        ) as test_client:
            yield test_client
    finally:
        stop.set()
        await lifespan


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as test_client:
        yield test_client


@dataclass
class Account:
    user_id: uuid.UUID
    email: str
    role: str
    token: str
    graduate_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


class Program:
    """Builds accounts through the real API (and the CLI's own service for the first supervisor)."""

    def __init__(self, client: httpx.AsyncClient, app: Litestar, clock: FixedClock) -> None:
        self.client, self.app, self.clock = client, app, clock

    async def sign_in(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post("/v1/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def supervisor(self) -> Account:
        from aftercare.staff.service import create_first_user

        email = unique_email("supervisor")
        async with self.app.state.session_factory() as session:
            await create_first_user(
                session,
                email=email,
                password=PASSWORD,
                role="supervisor",
                display_name="Sup",
                now=self.clock.now(),
            )
        tokens = await self.sign_in(email)
        return Account(uuid.UUID(tokens["user_id"]), email, "supervisor", tokens["access_token"])

    async def staff(self, by: Account, role: str = "counselor") -> Account:
        email = unique_email(role)
        response = await self.client.post(
            "/v1/staff",
            headers=by.headers,
            json={"email": email, "password": PASSWORD, "display_name": role.title(), "role": role},
        )
        assert response.status_code == 201, response.text
        tokens = await self.sign_in(email)
        return Account(uuid.UUID(tokens["user_id"]), email, role, tokens["access_token"])

    async def graduate(self, counselor: Account, **fields: Any) -> Account:
        body = {"display_name": "Grad", "timezone": "America/Chicago", **fields}
        response = await self.client.post("/v1/graduates", headers=counselor.headers, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        email = unique_email("graduate")
        enrolled = await self.client.post(
            "/v1/auth/enroll",
            json={"enrollment_code": created["enrollment_code"], "email": email, "password": PASSWORD},
        )
        assert enrolled.status_code == 201, enrolled.text
        tokens = enrolled.json()
        return Account(
            uuid.UUID(tokens["user_id"]),
            email,
            "graduate",
            tokens["access_token"],
            graduate_id=uuid.UUID(created["id"]),
        )


@pytest.fixture
def program(client: httpx.AsyncClient, app: Litestar, clock: FixedClock) -> Program:
    return Program(client, app, clock)


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"
