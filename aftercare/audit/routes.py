"""``GET /v1/audit``: the audit log, for supervisors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import schemas, service
from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]

    @get(
        "/",
        operation_id="listAuditEvents",
        opt={"access": Access.SUPERVISOR},
        description="Who read or changed which record, newest first; never the data itself.",
    )
    async def list_events(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        actor_id: Annotated[UUID | None, Parameter(required=False, description="who acted")] = None,
        graduate_id: Annotated[UUID | None, Parameter(required=False, description="whose record")] = None,
        start: Annotated[
            datetime | None, QueryParameter(name="from", description="inclusive instant")
        ] = None,
        end: Annotated[datetime | None, QueryParameter(name="to", description="exclusive instant")] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.AuditPage:
        check_calendar_bounds(**{"from": start, "to": end})
        return await service.list_events(
            db_session,
            reader=principal,
            actor_id=actor_id,
            graduate_id=graduate_id,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
        )
