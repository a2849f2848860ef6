"""Liveness and readiness probes.

Readiness reads in a read-only transaction: on SQLite an ordinary one would queue behind the writers
for their write gate, and a busy minute of check-ins would read as "not ready" to an orchestrator
that then restarts a working process."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from aftercare.auth.access import Access
from aftercare.db.engine import read_transaction
from aftercare.http import RETRY_AFTER_SECONDS, problem_response


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]
    opt = {"access": Access.PUBLIC}
    include_in_schema = True

    @get("/live", operation_id="healthLive")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", operation_id="healthReady", opt={"problems": [503]})
    async def ready(self, session_factory: async_sessionmaker[Any]) -> Response[Any]:
        try:
            async with session_factory() as session, read_transaction(session):
                await session.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means not ready
            response = problem_response(
                503, "/problems/not-ready", "Not ready", "the database is unreachable"
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        return Response({"status": "ok", "database": "ok"})
