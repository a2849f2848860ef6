"""``GET /v1/graduates/{id}/progress``: how the graduate's aftercare is going, at a glance."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.flows import progress
from aftercare.progress import schemas


class ProgressController(Controller):
    path = "/v1/graduates/{graduate_id:uuid}/progress"
    tags = ["progress"]

    @get("/", operation_id="getProgress", opt={"access": Access.GRADUATE_READ})
    async def get_progress(
        self, graduate_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.Progress:
        return await progress.graduate_progress(db_session, graduate_id, actor=principal, now=clock.now())
