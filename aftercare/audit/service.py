"""Recording audit events inside the caller's transaction, so an audited act and its record commit
or roll back together."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit.models import AuditEvent
from aftercare.auth.tokens import Principal
from aftercare.db.types import uuid7

# Set per request by the request-id middleware; read here so services need not thread it through.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


async def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    resource: str,
    graduate_id: uuid.UUID | None,
    now: datetime,
    resource_id: str | None = None,
) -> None:
    """Append one audit row. Staff reads and every write of a graduate's data call this."""
    await session.execute(
        insert(AuditEvent).values(
            id=uuid7(),
            at=now,
            actor_id=actor.user_id if actor else None,
            actor_role=actor.role if actor else "system",
            action=action,
            resource=resource,
            graduate_id=graduate_id,
            resource_id=resource_id,
            request_id=current_request_id.get(),
        )
    )


async def record_staff_read(
    session: AsyncSession, *, actor: Principal, resource: str, graduate_id: uuid.UUID | None, now: datetime
) -> None:
    """Staff reads are audited; a graduate reading their own record is not (it is theirs)."""
    if actor.is_staff:
        await record(session, actor=actor, action="read", resource=resource, graduate_id=graduate_id, now=now)
