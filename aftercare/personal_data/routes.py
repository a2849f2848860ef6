"""A graduate's data rights over HTTP: their export, their deletion request, the supervisors' list of
requests and the erasure that completes one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.db.engine import bound_engine
from aftercare.flows import erasure, export
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.personal_data import schemas, service


class MyDataController(Controller):
    path = "/v1/me"
    tags = ["data rights"]

    @get(
        "/export",
        operation_id="exportMyData",
        opt={"access": Access.GRADUATE},
        media_type="application/json",
        description="Everything stored about the caller, as one JSON document sent as it is read "
        "(a download: Content-Disposition attachment). Graduates only.",
    )
    async def export_my_data(self, db_session: AsyncSession, principal: Principal, clock: Clock) -> Stream:
        now = clock.now()
        subject = await export.start_export(db_session, actor=principal, now=now)
        engine: AsyncEngine = bound_engine(db_session)
        return Stream(
            export.export_document(engine, subject, now=now),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="aftercare-export-{now.date().isoformat()}.json"',
                "Cache-Control": "no-store",
            },
        )

    @post(
        "/deletion-request",
        operation_id="requestDeletion",
        opt={"access": Access.GRADUATE},
        description="Ask for all of the caller's data to be erased. Signing in stops at once and the "
        "graduate is discharged; the counselor (or their cover, or the supervisors) is told, and a "
        "supervisor erases the data.",
    )
    async def request_deletion(
        self,
        data: schemas.DeletionRequestCreate,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.DeletionRequest:
        return await erasure.request_deletion(db_session, data, actor=principal, now=clock.now())


class DeletionRequestController(Controller):
    path = "/v1/deletion-requests"
    tags = ["data rights"]

    @get("/", operation_id="listDeletionRequests", opt={"access": Access.SUPERVISOR})
    async def list_deletion_requests(
        self,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
        status: Annotated[schemas.DeletionRequestStatus | None, Parameter(required=False)] = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.DeletionRequestPage:
        return await service.list_requests(
            db_session, reader=principal, status=status, limit=limit, cursor=cursor, now=clock.now()
        )


class ErasureController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/erase"
    tags = ["data rights"]

    @post(
        "/",
        operation_id="eraseGraduate",
        opt={"access": Access.SUPERVISOR},
        status_code=200,
        description="Erase the graduate's personal data in every table, with or without their "
        "request; the answer is the tombstone. Again: 200, the same tombstone, no change.",
    )
    async def erase_graduate(
        self,
        graduate_id: UUID,
        data: schemas.EraseRequest,
        db_session: AsyncSession,
        principal: Principal,
        clock: Clock,
    ) -> schemas.DeletionRequest:
        return await erasure.erase_graduate(db_session, graduate_id, data, actor=principal, now=clock.now())
