"""Staff accounts, managed by supervisors."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.config import Settings
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.staff import schemas, service


class StaffController(Controller):
    path = "/v1/staff"
    tags = ["staff"]
    opt = {"access": Access.SUPERVISOR}

    @post("/", operation_id="createStaff", opt={"problems": [409]})
    async def create_staff(
        self, data: schemas.StaffCreate, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.StaffMember:
        return await service.create_staff(db_session, data, now=clock.now(), actor=principal)

    @get("/", operation_id="listStaff")
    async def list_staff(
        self,
        db_session: AsyncSession,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.StaffPage:
        return await service.list_staff(db_session, limit=limit, cursor=cursor)

    @get("/colleagues", operation_id="listColleagues", opt={"access": Access.STAFF})
    async def list_colleagues(
        self,
        db_session: AsyncSession,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.ColleaguePage:
        """Active staff, names and roles only, for every staff member: who can cover an away
        period. The full list with e-mails and settings stays the supervisors' (``listStaff``)."""
        return await service.list_colleagues(db_session, limit=limit, cursor=cursor)

    @patch("/{staff_id:uuid}", operation_id="updateStaff", opt={"access": Access.STAFF_SELF})
    async def update_staff(
        self,
        staff_id: UUID,
        data: schemas.StaffPatch,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        clock: Clock,
    ) -> schemas.StaffMember:
        """A supervisor changes anything; a counselor only their own ``email_alerts`` (403 otherwise)."""
        return await service.patch_staff(
            db_session, staff_id, data, actor=principal, now=clock.now(), email_enabled=settings.email_enabled
        )

    @put(
        "/{staff_id:uuid}/away",
        operation_id="setStaffAway",
        status_code=201,
        opt={"access": Access.STAFF_SELF, "problems": [409]},
    )
    async def set_away(
        self,
        staff_id: UUID,
        data: schemas.AwayCreate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> Response[schemas.AwayPeriod]:
        """The staff member themselves or a supervisor: away from ``from`` until ``until``, with a
        cover who gets the caseload's new alerts and reaches it for exactly the period. 201 for a new
        period, 200 for the same one again; one that overlaps another: 409 ``/problems/away-overlap``."""
        check_calendar_bounds(**{"from": data.start, "until": data.end})
        period, created = await service.set_away(db_session, staff_id, data, actor=principal, now=clock.now())
        return Response(period, status_code=201 if created else 200)

    @get("/{staff_id:uuid}/away", operation_id="listStaffAway", opt={"access": Access.STAFF})
    async def list_away(self, staff_id: UUID, db_session: AsyncSession, clock: Clock) -> schemas.AwayPeriods:
        """The periods in progress or to come, soonest first."""
        return await service.list_away(db_session, staff_id, now=clock.now())

    @delete("/{staff_id:uuid}/away", operation_id="endStaffAway", opt={"access": Access.STAFF_SELF})
    async def end_away(
        self, staff_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> None:
        """End the period in progress now (404 if none): reach returns to the counselor at once."""
        await service.end_away(db_session, staff_id, away_id=None, actor=principal, now=clock.now())

    @delete(
        "/{staff_id:uuid}/away/{away_id:uuid}",
        operation_id="cancelStaffAway",
        opt={"access": Access.STAFF_SELF},
    )
    async def cancel_away(
        self, staff_id: UUID, away_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> None:
        """End that period now, or remove it if it has not begun."""
        await service.end_away(db_session, staff_id, away_id=away_id, actor=principal, now=clock.now())
