"""Graduate profiles, caseloads and enrollment codes."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.config import Settings
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
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        needs_reassignment: bool | None = Parameter(
            default=None, description="true: only graduates whose counselor is deactivated"
        ),
    ) -> schemas.GraduatePage:
        return await service.list_caseload(
            db_session,
            actor=principal,
            limit=limit,
            cursor=cursor,
            now=clock.now(),
            needs_reassignment=needs_reassignment,
        )

    @get("/{graduate_id:uuid}", operation_id="getGraduate", opt={"access": Access.GRADUATE_READ})
    async def get_graduate(
        self, graduate_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.Graduate:
        return await service.get_graduate(db_session, graduate_id, actor=principal, now=clock.now())

    @patch("/{graduate_id:uuid}", operation_id="updateGraduate", opt={"access": Access.GRADUATE_READ})
    async def update_graduate(
        self,
        graduate_id: UUID,
        data: schemas.GraduatePatch,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.Graduate:
        check_calendar_bounds(discharge_date=data.discharge_date or None)
        return await service.patch_graduate(db_session, graduate_id, data, actor=principal, now=clock.now())

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
