"""``GET /v1/graduates/{id}/reminders``: what was pushed and what will be."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.http import check_calendar_bounds
from aftercare.scheduling import schemas, service


class ReminderController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/reminders"
    tags = ["scheduling"]

    @get("/", operation_id="listReminders", opt={"access": Access.GRADUATE_READ})
    async def list_reminders(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        start: Annotated[
            datetime | None, QueryParameter(name="from", description="inclusive instant; default now")
        ] = None,
        end: Annotated[
            datetime | None,
            QueryParameter(
                name="to", description="exclusive instant; default from + 7 days, at most from + 35 days"
            ),
        ] = None,
    ) -> schemas.ReminderList:
        check_calendar_bounds(**{"from": start, "to": end})
        items = await service.list_reminders(
            db_session, graduate_id, start=start, end=end, now=clock.now(), actor=principal
        )
        return schemas.ReminderList(items=items)
