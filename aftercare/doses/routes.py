"""Dose records: the graduate marks a scheduled dose taken or skipped; they and their staff list them."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.doses import schemas, service
from aftercare.flows import doses
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT


class DoseController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/doses"
    tags = ["doses"]

    # 409: another record of the same dose (``/problems/dose-exists``), a reused client_id, discharged.
    @post("/", operation_id="recordDose", opt={"access": Access.GRADUATE_SELF, "problems": [409]})
    async def record_dose(
        self,
        graduate_id: UUID,
        data: schemas.DoseCreate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> Response[schemas.Dose]:
        check_calendar_bounds(scheduled_for=data.scheduled_for, at=data.at)
        dose, replayed = await doses.record_dose(
            db_session, graduate_id=graduate_id, data=data, actor=principal, now=clock.now()
        )
        return Response(dose, status_code=200 if replayed else 201)

    @get("/", operation_id="listDoses", opt={"access": Access.GRADUATE_READ})
    async def list_doses(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        start: Annotated[
            date | None, QueryParameter(name="from", required=False, description="inclusive local date")
        ] = None,
        end: Annotated[
            date | None, QueryParameter(name="to", required=False, description="inclusive local date")
        ] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.DosePage:
        check_calendar_bounds(**{"from": start, "to": end})
        return await service.list_doses(
            db_session,
            graduate_id=graduate_id,
            actor=principal,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
        )
