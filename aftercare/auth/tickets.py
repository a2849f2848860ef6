"""Stream tickets: how a browser's ``EventSource``, which cannot send headers, signs in to the stream.

A ticket is a random secret handed out to a signed-in staff member, stored only as a hash, good for
one connection within 60 seconds. Redeeming it is one conditional UPDATE, so two connections racing
with the same ticket cannot both win. The stream it opens lasts as long as an access token issued at
the same moment would have.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth import schemas
from aftercare.auth.models import StreamTicket, User
from aftercare.auth.principal import Principal
from aftercare.auth.tokens import hash_token, new_secret_token

TICKET_LIFETIME = timedelta(seconds=60)


async def issue_ticket(session: AsyncSession, *, actor: Principal, now: datetime) -> schemas.StreamTicket:
    ticket = new_secret_token()
    async with session.begin():
        # Spent and expired tickets are worthless: sweeping them here keeps the table tiny.
        await session.execute(delete(StreamTicket).where(StreamTicket.expires_at <= now))
        await session.execute(
            insert(StreamTicket).values(
                ticket_hash=hash_token(ticket), user_id=actor.user_id, expires_at=now + TICKET_LIFETIME
            )
        )
    return schemas.StreamTicket(ticket=ticket, expires_in=int(TICKET_LIFETIME.total_seconds()))


async def redeem_ticket(
    session: AsyncSession, ticket: str, *, now: datetime, token_lifetime: timedelta
) -> Principal | None:
    """The principal a valid, unused ticket stands for (the ticket is spent), else None.

    The role and token generation are read from the account now, not remembered from the issue
    (a sign-out everywhere deletes the account's unspent tickets); whether the account is still
    active is the access guard's check, as for every staff request."""
    async with session.begin():
        row = (
            await session.execute(
                update(StreamTicket)
                .where(
                    StreamTicket.ticket_hash == hash_token(ticket),
                    StreamTicket.used_at.is_(None),
                    StreamTicket.expires_at > now,
                )
                .values(used_at=now)
                .returning(StreamTicket.user_id, StreamTicket.expires_at)
            )
        ).one_or_none()
        if row is None:
            return None
        account = (
            await session.execute(select(User.role, User.token_generation).where(User.id == row.user_id))
        ).one_or_none()
    if account is None:
        return None
    issued_at = row.expires_at - TICKET_LIFETIME
    return Principal(
        user_id=row.user_id,
        role=account.role,
        expires_at=issued_at + token_lifetime,
        token_generation=account.token_generation,
    )
