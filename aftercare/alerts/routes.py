"""The alert feed, one alert's story, acknowledgement and resolution, and the alert stream."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import HeaderParameter, Parameter, QueryParameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import schemas, service
from aftercare.alerts.stream import AlertEventHub, alert_stream
from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.flows import alert_detail
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.rules.lifecycle import AlertStatus


class AlertController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]
    opt = {"access": Access.STAFF}

    @get("/", operation_id="listAlerts")
    async def list_alerts(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        status: Annotated[list[AlertStatus] | None, Parameter(required=False)] = None,
        min_severity: Annotated[schemas.Severity | None, Parameter(required=False)] = None,
        graduate_id: Annotated[UUID | None, Parameter(required=False)] = None,
        overdue: Annotated[
            bool | None,
            Parameter(
                required=False,
                description="true: only open alerts past their respond_by now; false: only the others",
            ),
        ] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.AlertPage:
        return await service.list_alerts(
            db_session,
            actor=principal,
            statuses=status or [],
            min_severity=min_severity,
            graduate_id=graduate_id,
            overdue=overdue,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
        )

    @get("/{alert_id:uuid}", operation_id="getAlert")
    async def get_alert(
        self, alert_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.AlertDetail:
        return await alert_detail.alert_detail(db_session, alert_id, actor=principal, now=clock.now())

    @post("/{alert_id:uuid}/acknowledge", operation_id="acknowledgeAlert", status_code=200)
    async def acknowledge(
        self, alert_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.Alert:
        return await service.acknowledge_alert(db_session, alert_id, actor=principal, now=clock.now())

    @post("/{alert_id:uuid}/resolve", operation_id="resolveAlert", status_code=200, opt={"problems": [409]})
    async def resolve(
        self,
        alert_id: UUID,
        data: schemas.ResolveRequest,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.Alert:
        return await service.resolve_alert(db_session, alert_id, data.note, actor=principal, now=clock.now())

    # "streams": the access matrix cannot wait for an endless answer; "ticket": the guard also
    # accepts ?ticket= here, for EventSource (tokens never travel in URLs otherwise).
    @get(
        "/stream",
        operation_id="streamAlerts",
        media_type="text/event-stream",
        opt={"streams": True, "ticket": True},
    )
    async def stream(
        self,
        principal: Principal,
        clock: Clock,
        alert_hub: AlertEventHub,
        last_event_id: Annotated[
            int | None, HeaderParameter(name="Last-Event-ID", required=False, ge=0)
        ] = None,
        ticket: Annotated[str | None, QueryParameter(name="ticket", required=False, max_length=200)] = None,
    ) -> ServerSentEvent:
        return ServerSentEvent(alert_stream(alert_hub, principal, resume_after=last_event_id, clock=clock))
