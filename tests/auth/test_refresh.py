"""Refresh tokens rotate; a rotated one coming back revokes its whole family; a race has one winner."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from aftercare.auth.models import RefreshToken
from aftercare.auth.tokens import hash_token
from tests.conftest import Program


async def _refresh(program: Program, token: str) -> Any:
    return await program.client.post("/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_returns_a_new_working_pair(program: Program) -> None:
    supervisor = await program.supervisor()
    first = await program.sign_in(supervisor.email)
    program.clock.advance(minutes=5)
    response = await _refresh(program, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user_id"] == first["user_id"] and second["role"] == "supervisor"
    me = await program.client.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    # The new refresh token rotates again.
    assert (await _refresh(program, second["refresh_token"])).status_code == 200


async def test_reuse_of_a_rotated_token_revokes_the_family(program: Program) -> None:
    supervisor = await program.supervisor()
    first = await program.sign_in(supervisor.email)
    other_session = await program.sign_in(supervisor.email)
    second = (await _refresh(program, first["refresh_token"])).json()
    third = (await _refresh(program, second["refresh_token"])).json()

    reused = await _refresh(program, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.headers["content-type"].startswith("application/problem+json")
    # The newest token of the family (the thief's or the owner's) dies too ...
    assert (await _refresh(program, third["refresh_token"])).status_code == 401
    # ... but another sign-in of the same account is a different family and lives on.
    assert (await _refresh(program, other_session["refresh_token"])).status_code == 200


async def test_expired_and_unknown_refresh_tokens_are_refused(program: Program) -> None:
    supervisor = await program.supervisor()
    pair = await program.sign_in(supervisor.email)
    assert (await _refresh(program, "not-a-token")).status_code == 401
    program.clock.advance(days=30, seconds=1)
    assert (await _refresh(program, pair["refresh_token"])).status_code == 401


async def test_concurrent_refreshes_with_one_token_have_exactly_one_winner(program: Program) -> None:
    supervisor = await program.supervisor()
    pair = await program.sign_in(supervisor.email)
    responses = await asyncio.gather(*(_refresh(program, pair["refresh_token"]) for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [200, 401]


async def test_refresh_tokens_are_stored_hashed(program: Program) -> None:
    supervisor = await program.supervisor()
    pair = await program.sign_in(supervisor.email)
    async with program.app.state.session_factory() as session:
        hashes = set(
            (
                await session.scalars(
                    select(RefreshToken.token_hash).where(RefreshToken.user_id == supervisor.user_id)
                )
            ).all()
        )
    assert hash_token(pair["refresh_token"]) in hashes
    assert pair["refresh_token"] not in hashes
