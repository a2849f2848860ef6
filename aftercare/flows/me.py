"""The caller's own profile (``GET /v1/me``): the account (auth) and how much of its inbox is unread
(push), read in one transaction so the two agree."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth import schemas
from aftercare.auth import service as auth
from aftercare.auth.principal import Principal
from aftercare.push import service as push


async def my_profile(session: AsyncSession, principal: Principal) -> schemas.Me:
    async with session.begin():
        unread = await push.unread_count(session, principal.user_id)
        return await auth.my_profile(session, principal, unread_count=unread)
