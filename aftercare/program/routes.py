"""The program's warning-sign rules and escalation policy."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.params import HeaderParameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.program import service
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
            await service.put_rules(db_session, data, if_match=if_match, actor=principal, now=clock.now())
        )
