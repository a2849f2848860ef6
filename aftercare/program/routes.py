"""The program's warning-sign rules, settings, response targets and escalation; its response times."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.params import HeaderParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.flows.response_times import response_times
from aftercare.program import schemas, service
from aftercare.rules.config import ProgramRules


def _with_etag(rules: ProgramRules) -> Response[ProgramRules]:
    return Response(rules, headers={"ETag": f'"{rules.version}"'})


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
            await service.put_rules(
                db_session, data, if_match=if_match, actor_id=principal.user_id, now=clock.now()
            )
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
        return await response_times(db_session, start=start, end=end, actor=principal, now=clock.now())
