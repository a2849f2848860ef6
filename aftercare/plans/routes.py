"""The aftercare plan: read, create or replace (ETag / If-Match), start from a template, history."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.params import HeaderParameter, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.http import caller
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.plans import schemas, service


def _with_etag(plan: schemas.Plan, status_code: int = 200) -> Response[schemas.Plan]:
    return Response(plan, status_code=status_code, headers={"ETag": service.etag(plan.version)})


class PlanController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/plan"
    tags = ["plans"]

    # The two hot routes take the caller and the clock from the request (``http.caller``).
    @get("/", operation_id="getPlan", opt={"access": Access.GRADUATE_READ})
    async def get_plan(
        self, graduate_id: UUID, request: Request[Principal, Any, Any]
    ) -> Response[schemas.Plan]:
        principal, now = caller(request)
        async with request.app.state.session_factory() as session:
            plan = await service.get_plan(session, graduate_id, actor=principal, now=now)
        return _with_etag(plan)

    @put(
        "/",
        operation_id="putPlan",
        status_code=200,
        opt={"access": Access.GRADUATE_READ, "problems": [412, 428]},
        description="Create (no If-Match, or If-None-Match: *; 201) or replace (If-Match required; 200). "
        "A graduate may change only coping_skills, triggers, warning_signs, support_contacts and goals.",
    )
    async def put_plan(
        self,
        graduate_id: UUID,
        data: schemas.PlanBody,
        request: Request[Principal, Any, Any],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match", max_length=200)] = None,
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match", max_length=200)] = None,
    ) -> Response[schemas.Plan]:
        principal, now = caller(request)
        async with request.app.state.session_factory() as session:
            written = await service.put_plan(
                session,
                graduate_id,
                data,
                actor=principal,
                now=now,
                precondition=service.Precondition(if_match=if_match, if_none_match=if_none_match),
            )
        return _with_etag(written.plan, 201 if written.created else 200)

    @post("/", operation_id="startPlanFromTemplate", opt={"access": Access.GRADUATE_STAFF, "problems": [412]})
    async def start_plan(
        self,
        graduate_id: UUID,
        data: schemas.PlanFromTemplate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> Response[schemas.Plan]:
        written = await service.start_plan_from_template(
            db_session, graduate_id, data.template_id, actor=principal, now=clock.now()
        )
        return _with_etag(written.plan, 201)

    @get("/versions", operation_id="listPlanVersions", opt={"access": Access.GRADUATE_READ})
    async def list_versions(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.PlanVersionPage:
        return await service.list_versions(
            db_session, graduate_id, actor=principal, limit=limit, cursor=cursor, now=clock.now()
        )

    @get("/versions/{version:int}", operation_id="getPlanVersion", opt={"access": Access.GRADUATE_READ})
    async def get_version(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        version: int = Parameter(ge=1, le=2**31 - 1),
    ) -> schemas.Plan:
        return await service.get_version(db_session, graduate_id, version, actor=principal, now=clock.now())


class PlanTemplateController(Controller):
    path = "/v1/plan-templates"
    tags = ["plans"]

    @get("/", operation_id="listPlanTemplates", opt={"access": Access.STAFF})
    async def list_templates(
        self,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.PlanTemplatePage:
        return service.list_templates(limit=limit, cursor=cursor)
