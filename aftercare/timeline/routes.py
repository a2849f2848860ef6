"""``GET /v1/graduates/{id}/timeline``: everything that happened to a graduate's aftercare, for staff."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.timeline import schemas, service


class TimelineController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/timeline"
    tags = ["timeline"]

    @get("/", operation_id="getTimeline", opt={"access": Access.GRADUATE_STAFF})
    async def timeline(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        start: Annotated[
            datetime | None, QueryParameter(name="from", description="inclusive instant")
        ] = None,
        end: Annotated[datetime | None, QueryParameter(name="to", description="exclusive instant")] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.TimelinePage:
        check_calendar_bounds(**{"from": start, "to": end})
        return await service.graduate_timeline(
            db_session,
            graduate_id,
            actor=principal,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
        )
