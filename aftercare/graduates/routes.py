"""Graduate profiles, caseloads and enrollment codes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.config import Settings
from aftercare.flows import profile
from aftercare.graduates import schemas, service
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT


class GraduateController(Controller):
    path = "/v1/graduates"
    tags = ["graduates"]

    @post("/", operation_id="createGraduate", opt={"access": Access.STAFF})
    async def create_graduate(
        self,
        data: schemas.GraduateCreate,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        clock: Clock,
    ) -> schemas.GraduateCreated:
        check_calendar_bounds(discharge_date=data.discharge_date)
        return await service.create_graduate(
            db_session, data, actor=principal, settings=settings, now=clock.now()
        )

    @get("/", operation_id="listGraduates", opt={"access": Access.STAFF})
    async def list_graduates(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        sort: Annotated[
            schemas.CaseloadSort,
            Parameter(
                description="risk (default): critical first, then the longest silence; last_checkin: "
                "the longest silence first; open_alerts: the most first; name: by display name."
            ),
        ] = "risk",
        risk_level: Annotated[list[schemas.RiskLevel] | None, Parameter(required=False)] = None,
        status: Annotated[list[schemas.GraduateStatus] | None, Parameter(required=False)] = None,
        has_open_alerts: Annotated[bool | None, Parameter(required=False)] = None,
        search: Annotated[
            str | None,
            Parameter(
                required=False,
                min_length=1,
                max_length=200,
                # No control characters (PostgreSQL refuses NUL in text), and no U+FFFD: what a byte
                # that is not UTF-8 decodes to, which no display name holds.
                pattern=r"^[^\x00-\x1f\x7f\ufffd]*$",
                description="A display-name prefix, ignoring case and accents.",
            ),
        ] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        needs_reassignment: bool | None = Parameter(
            default=None, description="true: only graduates whose counselor is deactivated"
        ),
    ) -> schemas.GraduatePage:
        query = schemas.CaseloadQuery(
            sort=sort,
            risk_levels=tuple(risk_level or ()),
            statuses=tuple(status or ()),
            has_open_alerts=has_open_alerts,
            search=search,
            needs_reassignment=needs_reassignment,
        )
        return await service.list_caseload(
            db_session, actor=principal, query=query, limit=limit, cursor=cursor, now=clock.now()
        )

    @get("/{graduate_id:uuid}", operation_id="getGraduate", opt={"access": Access.GRADUATE_READ})
    async def get_graduate(
        self, graduate_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.GraduateDetail:
        return await service.get_graduate(db_session, graduate_id, actor=principal, now=clock.now())

    @patch("/{graduate_id:uuid}", operation_id="updateGraduate", opt={"access": Access.GRADUATE_READ})
    async def update_graduate(
        self,
        graduate_id: UUID,
        data: schemas.GraduatePatch,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.GraduateDetail:
        check_calendar_bounds(discharge_date=data.discharge_date or None)
        return await profile.patch_graduate(db_session, graduate_id, data, actor=principal, now=clock.now())

    @post(
        "/{graduate_id:uuid}/enrollment-code",
        operation_id="reissueEnrollmentCode",
        opt={"access": Access.GRADUATE_STAFF},
    )
    async def reissue_enrollment_code(
        self,
        graduate_id: UUID,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        clock: Clock,
    ) -> schemas.EnrollmentCodeIssued:
        return await service.reissue_enrollment_code(
            db_session, graduate_id, actor=principal, settings=settings, now=clock.now()
        )
