"""Daily check-ins, amendments and "help now": the HTTP edge of the check-in flows (``flows/``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.checkins import schemas, service
from aftercare.clock import Clock
from aftercare.config import Settings
from aftercare.flows import amend, help_now, submit
from aftercare.http import CLEANED_TEXT, caller, check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT


class CheckinController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}"
    tags = ["checkins"]

    @post("/checkins", operation_id="submitCheckin", opt={"access": Access.GRADUATE_SELF, "problems": [409]})
    async def submit_checkin(
        self,
        graduate_id: UUID,
        data: schemas.CheckinCreate,
        request: Request[Principal, Any, Any],
    ) -> Response[schemas.CheckinResult]:
        # The hot write: the caller and the clock from the request, no dependencies (``http.caller``).
        principal, now = caller(request)
        state = request.app.state
        result = await submit.submit_checkin(
            state.engine,
            graduate_id=graduate_id,
            data=data,
            actor=principal,
            crisis_line=state.settings.crisis_line,
            now=now,
        )
        return Response(result.body, status_code=200 if result.replayed else 201)

    # 409: a discharged graduate's amendment (``/problems/discharged``).
    @patch(
        "/checkins/{checkin_id:uuid}",
        operation_id="amendCheckin",
        opt={"access": Access.GRADUATE_SELF, "problems": [409]},
    )
    async def amend_checkin(
        self,
        graduate_id: UUID,
        checkin_id: UUID,
        data: schemas.CheckinAmend,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        clock: Clock,
    ) -> schemas.CheckinResult:
        return await amend.amend_checkin(
            db_session,
            graduate_id=graduate_id,
            checkin_id=checkin_id,
            data=data,
            actor=principal,
            crisis_line=settings.crisis_line,
            now=clock.now(),
        )

    @get("/checkins", operation_id="listCheckins", opt={"access": Access.GRADUATE_READ})
    async def list_checkins(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        start: Annotated[date | None, QueryParameter(name="from", required=False)] = None,
        end: Annotated[date | None, QueryParameter(name="to", required=False)] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.CheckinPage:
        check_calendar_bounds(**{"from": start, "to": end})
        return await service.list_checkins(
            db_session,
            graduate_id=graduate_id,
            actor=principal,
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
        )

    # CLEANED_TEXT: a person in crisis is never refused for what their phone put in the message.
    @post(
        "/help",
        operation_id="requestHelp",
        opt={"access": Access.GRADUATE_SELF, "problems": [409], CLEANED_TEXT: True},
    )
    async def request_help(
        self,
        graduate_id: UUID,
        data: schemas.HelpCreate,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        clock: Clock,
    ) -> Response[schemas.HelpResult]:
        result, replayed = await help_now.request_help(
            db_session,
            graduate_id=graduate_id,
            data=data,
            actor=principal,
            crisis_line=settings.crisis_line,
            now=clock.now(),
        )
        return Response(result, status_code=200 if replayed else 201)
