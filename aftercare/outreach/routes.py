"""The outreach log: recording outreach on an alert or on a graduate (``flows/outreach.py``), and a
graduate's log."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.flows import outreach as flow
from aftercare.http import check_calendar_bounds
from aftercare.outreach import schemas, service
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT


class OutreachController(Controller):
    path = "/v1"
    tags = ["outreach"]

    # STAFF: the alert's graduate is known only once the alert is read, so the flow checks the reach
    # (404 outside it, as for an alert that does not exist).
    @post(
        "/alerts/{alert_id:uuid}/outreach",
        operation_id="recordAlertOutreach",
        opt={"access": Access.STAFF, "problems": [409]},
    )
    async def record_alert_outreach(
        self,
        alert_id: UUID,
        data: schemas.OutreachCreate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> Response[schemas.Outreach]:
        check_calendar_bounds(occurred_at=data.occurred_at)
        record, replayed = await flow.record_alert_outreach(
            db_session, alert_id=alert_id, data=data, actor=principal, now=clock.now()
        )
        return Response(record, status_code=200 if replayed else 201)

    @post(
        "/graduates/{graduate_id:uuid}/outreach",
        operation_id="recordGraduateOutreach",
        opt={"access": Access.GRADUATE_STAFF, "problems": [409]},
    )
    async def record_graduate_outreach(
        self,
        graduate_id: UUID,
        data: schemas.OutreachCreate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> Response[schemas.Outreach]:
        check_calendar_bounds(occurred_at=data.occurred_at)
        record, replayed = await flow.record_graduate_outreach(
            db_session, graduate_id=graduate_id, data=data, actor=principal, now=clock.now()
        )
        return Response(record, status_code=200 if replayed else 201)

    @get(
        "/graduates/{graduate_id:uuid}/outreach",
        operation_id="listOutreach",
        opt={"access": Access.GRADUATE_STAFF},
    )
    async def list_outreach(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.OutreachPage:
        return await service.list_outreach(
            db_session, graduate_id=graduate_id, actor=principal, limit=limit, cursor=cursor, now=clock.now()
        )
