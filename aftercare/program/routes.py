"""The program's warning-sign rules, settings, response targets and escalation; its response times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

from litestar import Controller, Response, delete, get, put
from litestar.params import HeaderParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.flows.response_times import response_times
from aftercare.http import check_calendar_bounds
from aftercare.program import schemas, service
from aftercare.rules.config import ProgramRules
from aftercare.rules.rota import OnCallRota

Document = TypeVar("Document", ProgramRules, OnCallRota)


def _with_etag(document: Document) -> Response[Document]:
    """A versioned program document with its version as the ETag, for the next write's If-Match."""
    return Response(document, headers={"ETag": f'"{document.version}"'})


class ProgramRulesController(Controller):
    path = "/v1/program/rules"
    tags = ["rules"]

    @get("/", operation_id="getProgramRules", opt={"access": Access.STAFF})
    async def get_rules(self, db_session: AsyncSession) -> Response[ProgramRules]:
        return _with_etag(await service.get_rules(db_session))

    @put(
        "/",
        operation_id="putProgramRules",
        status_code=200,
        opt={"access": Access.SUPERVISOR, "problems": [412, 428]},
    )
    async def put_rules(
        self,
        data: ProgramRules,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        if_match: Annotated[
            str | None, HeaderParameter(name="If-Match", required=False, max_length=64)
        ] = None,
    ) -> Response[ProgramRules]:
        return _with_etag(
            await service.put_rules(db_session, data, if_match=if_match, actor=principal, now=clock.now())
        )


class ResponseTimesController(Controller):
    path = "/v1/program/response-times"
    tags = ["rules"]

    @get("/", operation_id="getResponseTimes", opt={"access": Access.SUPERVISOR})
    async def get_response_times(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        start: Annotated[
            datetime | None,
            QueryParameter(name="from", description="alerts opened at or after; default to - 30 days"),
        ] = None,
        end: Annotated[
            datetime | None,
            QueryParameter(
                name="to", description="alerts opened before; default now, at most from + 366 days"
            ),
        ] = None,
    ) -> schemas.ResponseTimes:
        check_calendar_bounds(**{"from": start, "to": end})
        return await response_times(db_session, start=start, end=end, actor=principal, now=clock.now())


class OnCallRotaController(Controller):
    path = "/v1/program/on-call-rota"
    tags = ["rules"]

    @get("/", operation_id="getOnCallRota", opt={"access": Access.STAFF})
    async def get_rota(self, db_session: AsyncSession) -> Response[OnCallRota]:
        """The rota; 404 if the program has none."""
        rota = await service.get_rota(db_session)
        return _with_etag(rota)

    @put(
        "/",
        operation_id="putOnCallRota",
        status_code=200,
        opt={"access": Access.SUPERVISOR, "problems": [412, 428]},
    )
    async def put_rota(
        self,
        data: OnCallRota,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        if_match: Annotated[
            str | None, HeaderParameter(name="If-Match", required=False, max_length=64)
        ] = None,
    ) -> Response[OnCallRota]:
        """Create (``If-Match: "0"`` or ``*``) or replace the rota; every staff id must be an active
        staff member's (422 naming it)."""
        check_calendar_bounds(
            starts_on=data.starts_on,
            **{f"overrides[{i}].from": o.start for i, o in enumerate(data.overrides)},
            **{f"overrides[{i}].until": o.end for i, o in enumerate(data.overrides)},
        )
        rota = await service.put_rota(db_session, data, if_match=if_match, actor=principal, now=clock.now())
        return _with_etag(rota)

    @delete("/", operation_id="deleteOnCallRota", opt={"access": Access.SUPERVISOR, "problems": [412, 428]})
    async def delete_rota(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        if_match: Annotated[
            str | None, HeaderParameter(name="If-Match", required=False, max_length=64)
        ] = None,
    ) -> None:
        await service.delete_rota(db_session, if_match=if_match, actor=principal, now=clock.now())


class OnCallController(Controller):
    path = "/v1/program/on-call"
    tags = ["rules"]

    @get("/", operation_id="getOnCall", opt={"access": Access.STAFF})
    async def get_on_call(
        self,
        db_session: AsyncSession,
        clock: Clock,
        at: Annotated[datetime | None, QueryParameter(description="the instant; default now")] = None,
    ) -> schemas.OnCallAnswer:
        """Who is on call at ``at``: an override holding it, else the rota's shift (outside business
        hours when the rota says so); nobody, with the reason, otherwise."""
        check_calendar_bounds(at=at)
        return await service.who_is_on_call(db_session, at=at or clock.now())
