"""Staff accounts, managed by supervisors."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
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

    @patch("/{staff_id:uuid}", operation_id="updateStaff")
    async def update_staff(
        self,
        staff_id: UUID,
        data: schemas.StaffPatch,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.StaffMember:
        return await service.patch_staff(db_session, staff_id, data, actor=principal, now=clock.now())
