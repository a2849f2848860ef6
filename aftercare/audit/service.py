"""Recording audit events inside the caller's transaction, so an audited act and its record commit
or roll back together; for staff reads, a group commit that makes the record durable before the
response is sent without one transaction (and one fsync) per read; and reading the log back for
supervisors (``list_events``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.audit import schemas
from aftercare.audit.models import AuditEvent
from aftercare.auth.principal import Principal
from aftercare.db.batching import Batcher, BatchFunction, batcher_for
from aftercare.db.types import uuid7
from aftercare.errors import ValidationFailed
from aftercare.pagination import Instant, Keyset, before_key
from aftercare.request_context import current_request_id


def _audit_table() -> Table:
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    return table


_events = _audit_table()
_insert_events = insert(_events)


async def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    resource: str,
    graduate_id: uuid.UUID | None,
    now: datetime,
    resource_id: str | None = None,
) -> None:
    """Append one audit row. Staff reads and every write of a graduate's data call this."""
    await record_rows(
        session,
        [
            row(
                actor=actor,
                action=action,
                resource=resource,
                graduate_id=graduate_id,
                now=now,
                resource_id=resource_id,
            )
        ],
    )


async def record_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append rows made by ``row``, with one statement, in the caller's transaction."""
    connection = await session.connection()  # Core on the caller's transaction, no ORM execute
    await connection.execute(_insert_events, rows)


def row(
    *,
    actor: Principal | None,
    action: str,
    resource: str,
    graduate_id: uuid.UUID | None,
    now: datetime,
    resource_id: str | None = None,
) -> dict[str, Any]:
    """One audit row, with the id of the request being served (``current_request_id``)."""
    return {
        "id": uuid7(),
        "at": now,
        "actor_id": actor.user_id if actor else None,
        "actor_role": actor.role if actor else "system",
        "action": action,
        "resource": resource,
        "graduate_id": graduate_id,
        "resource_id": resource_id,
        "request_id": current_request_id.get(),
    }


async def record_staff_read(
    session: AsyncSession,
    *,
    actor: Principal,
    resource: str,
    graduate_id: uuid.UUID | None,
    now: datetime,
    resource_id: str | None = None,
) -> None:
    """Staff reads are audited; a graduate reading their own record is not (it is theirs)."""
    if actor.is_staff:
        await record(
            session,
            actor=actor,
            action="read",
            resource=resource,
            graduate_id=graduate_id,
            now=now,
            resource_id=resource_id,
        )


async def commit_staff_read(
    session: AsyncSession, *, actor: Principal, resource: str, graduate_id: uuid.UUID | None, now: datetime
) -> None:
    """Audit a staff read that has already been done, and return once its row is committed.

    For read paths that read outside a write transaction (``db.engine.read_statement`` or
    ``read_transaction``): call it after the read has ended (on SQLite a caller still holding the write lock would wait for
    itself) and before the data leaves the server. The rows of concurrent reads are committed together
    (see ``_inserter``); if that commit fails, this raises and the read must fail with it,
    so a staff read is never answered without a durable record.
    """
    if not actor.is_staff:
        return
    bind = session.bind
    assert isinstance(bind, AsyncEngine), "commit_staff_read needs a session bound to an AsyncEngine"
    read = row(actor=actor, action="read", resource=resource, graduate_id=graduate_id, now=now)
    await batcher_for(
        bind, "staff-read-audit", lambda loop: Batcher(_inserter(bind), loop, max_batch=500)
    ).submit(read)


def _inserter(engine: AsyncEngine) -> BatchFunction[dict[str, Any], None]:
    """Read audit rows in batches (``db.batching``): all of a batch committed, or none.

    On SQLite, one transaction through the writer gate (in autocommit each row would be a
    transaction and an fsync of its own). On PostgreSQL, in autocommit: one row is one INSERT,
    several go through asyncpg's executemany, which is atomic (one implicit transaction, closed by
    one Sync); either way the server commits before it answers, and BEGIN and COMMIT would be two
    more round trips."""

    async def insert_rows(rows: list[dict[str, Any]]) -> list[None]:
        if engine.dialect.name == "sqlite":
            async with engine.begin() as connection:
                await connection.execute(_insert_events, rows)
        else:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(_insert_events, rows)
        return [None] * len(rows)

    return insert_rows


_CURSORS = Keyset[datetime](Instant)  # the log's keys: (at, id)


async def list_events(
    session: AsyncSession,
    *,
    reader: Principal,
    actor_id: uuid.UUID | None,
    graduate_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.AuditPage:
    """The audit log newest first, keyset-paged on (at, id); filtered by who acted, whose record,
    and when (``start`` inclusive, ``end`` exclusive). Each filter has its index
    (``ix_audit_events_at_id``, ``_actor_id_at``, ``_graduate_id_at``). Reading the log is itself
    recorded: whoever watches the watchers can see who looked."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed.one(name, "an instant needs a UTC offset (e.g. 2026-11-24T18:00:00Z)")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed.one("to", "must be after from")
    key = _CURSORS.decode(cursor)
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if graduate_id is not None:
        query = query.where(AuditEvent.graduate_id == graduate_id)
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    if key is not None:
        query = query.where(before_key(AuditEvent.at, AuditEvent.id, key.sort_value, key.id))
    async with session.begin():
        rows = list(await session.scalars(query))
        await record(session, actor=reader, action="read", resource="audit", graduate_id=graduate_id, now=now)
    page = rows[:limit]
    return schemas.AuditPage(
        items=[
            schemas.AuditEntry(
                id=row.id,
                at=row.at,
                actor_id=row.actor_id,
                actor_role=row.actor_role,
                action=row.action,
                resource=row.resource,
                graduate_id=row.graduate_id,
                resource_id=row.resource_id,
                request_id=row.request_id,
            )
            for row in page
        ],
        next_cursor=_CURSORS.encode(page[-1].at, page[-1].id) if len(rows) > limit else None,
    )
