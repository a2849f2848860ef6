"""Stream tickets: single use, 60 seconds, stored hashed, good only where a route allows them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from aftercare.auth.models import StreamTicket
from aftercare.auth.tickets import TICKET_LIFETIME, redeem_ticket
from aftercare.auth.tokens import hash_token
from aftercare.clock import FixedClock
from aftercare.config import Settings
from tests.conftest import Program

LIFETIME = timedelta(minutes=15)


async def issue(program: Program, headers: dict[str, str]) -> str:
    response = await program.client.post("/v1/auth/stream-ticket", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == 60
    ticket: str = body["ticket"]
    return ticket


async def test_a_ticket_is_stored_hashed_and_redeems_once(program: Program, clock: FixedClock) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    ticket = await issue(program, counselor.headers)
    factory = program.app.state.session_factory
    async with factory() as session:
        stored = list(
            await session.scalars(select(StreamTicket).where(StreamTicket.user_id == counselor.user_id))
        )
    assert [t.ticket_hash for t in stored] == [hash_token(ticket)]
    assert stored[0].expires_at == clock.now() + TICKET_LIFETIME
    issued_at = clock.now()
    clock.advance(seconds=30)
    async with factory() as session:
        principal = await redeem_ticket(session, ticket, now=clock.now(), token_lifetime=LIFETIME)
    assert principal is not None and principal.user_id == counselor.user_id and principal.role == "counselor"
    # The stream lasts as long as an access token issued with the ticket would have.
    assert principal.expires_at == issued_at + LIFETIME
    async with factory() as session:
        assert await redeem_ticket(session, ticket, now=clock.now(), token_lifetime=LIFETIME) is None


async def test_a_ticket_expires_after_60_seconds(program: Program, clock: FixedClock) -> None:
    supervisor = await program.supervisor()
    ticket = await issue(program, supervisor.headers)
    clock.advance(seconds=60)
    async with program.app.state.session_factory() as session:
        assert await redeem_ticket(session, ticket, now=clock.now(), token_lifetime=LIFETIME) is None
    # Expired tickets are swept when the next one is issued.
    await issue(program, supervisor.headers)
    async with program.app.state.session_factory() as session:
        left = list(
            await session.scalars(
                select(StreamTicket.ticket_hash).where(StreamTicket.user_id == supervisor.user_id)
            )
        )
    assert hash_token(ticket) not in left and len(left) == 1


async def test_the_guard_takes_a_ticket_only_on_the_stream(program: Program, settings: Settings) -> None:
    supervisor = await program.supervisor()
    graduate = await program.graduate(await program.staff(supervisor))
    ticket = await issue(program, supervisor.headers)
    for path in ("/v1/alerts", "/v1/graduates", f"/v1/graduates/{graduate.graduate_id}/timeline"):
        response = await program.client.get(path, params={"ticket": ticket})
        assert response.status_code == 401, path
    # Refused elsewhere, the ticket was not spent.
    async with program.app.state.session_factory() as session:
        assert (
            await redeem_ticket(session, ticket, now=program.clock.now(), token_lifetime=LIFETIME) is not None
        )
    # Graduates get no tickets; a spent or unknown ticket opens no stream.
    assert (await program.client.post("/v1/auth/stream-ticket", headers=graduate.headers)).status_code == 403
    for bad in (ticket, "not-a-ticket"):
        response = await program.client.get("/v1/alerts/stream", params={"ticket": bad})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_deactivated_account_cannot_redeem_its_ticket(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    ticket = await issue(program, counselor.headers)
    response = await program.client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"active": False}
    )
    assert response.status_code == 200
    refused = await program.client.get("/v1/alerts/stream", params={"ticket": ticket})
    assert refused.status_code == 401
