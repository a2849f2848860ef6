"""Rotating the JWT secret with an overlap window (AFTERCARE_JWT_PREVIOUS_SECRETS): access tokens and
enrollment codes made with the previous secret stay good until they expire, new ones use the new
secret, and once the previous secret is dropped what it made is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.app import create_app
from aftercare.clock import FixedClock
from aftercare.config import ConfigError, Settings
from tests.conftest import PASSWORD, Program, unique_email

OLD, NEW = "old-secret-" + "o" * 40, "new-secret-" + "n" * 40


@asynccontextmanager
async def serving(
    settings: Settings, clock: FixedClock, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock, engine=engine)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        yield client


async def test_tokens_and_codes_of_the_previous_secret_live_through_the_overlap(
    settings: Settings, clock: FixedClock, engine: AsyncEngine, program: Program
) -> None:
    before = replace(settings, jwt_secret=OLD)
    async with serving(before, clock, engine) as old_app:
        program.client = old_app
        supervisor = await program.supervisor()
        counselor = await program.staff(supervisor)
        made = await old_app.post(
            "/v1/graduates",
            headers=counselor.headers,
            json={"display_name": "G", "timezone": "America/Chicago"},
        )
        assert made.status_code == 201, made.text
    code = made.json()["enrollment_code"]

    overlap = replace(settings, jwt_secret=NEW, jwt_previous_secrets=(OLD,))
    async with serving(overlap, clock, engine) as new_app:
        assert (await new_app.get("/v1/me", headers=counselor.headers)).status_code == 200
        signed_in = await new_app.post(
            "/v1/auth/token", json={"email": counselor.email, "password": PASSWORD}
        )
        fresh = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        enrolled = await new_app.post(
            "/v1/auth/enroll",
            json={"enrollment_code": code, "email": unique_email("g"), "password": PASSWORD},
        )
        assert enrolled.status_code == 201, enrolled.text

    after = replace(settings, jwt_secret=NEW)
    async with serving(after, clock, engine) as newest:
        assert (await newest.get("/v1/me", headers=fresh)).status_code == 200  # made with the new secret
        assert (await newest.get("/v1/me", headers=counselor.headers)).status_code == 401  # the old one's


def test_previous_secrets_are_read_from_the_environment_and_checked() -> None:
    settings = Settings.from_env(
        {"AFTERCARE_JWT_SECRET": NEW, "AFTERCARE_JWT_PREVIOUS_SECRETS": f"{OLD}, {OLD}x"}
    )
    assert settings.jwt_secrets == (NEW, OLD, OLD + "x")
    with pytest.raises(ConfigError, match="AFTERCARE_JWT_PREVIOUS_SECRETS must be at least 32"):
        Settings.from_env({"AFTERCARE_JWT_SECRET": NEW, "AFTERCARE_JWT_PREVIOUS_SECRETS": "short"})
    with pytest.raises(ConfigError, match="needs AFTERCARE_JWT_SECRET"):
        Settings.from_env({"AFTERCARE_JWT_PREVIOUS_SECRETS": OLD})
