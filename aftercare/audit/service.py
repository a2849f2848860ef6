"""Recording audit events inside the caller's transaction, so an audited act and its record commit
or roll back together; and, for staff reads, a group commit that makes the record durable before the
response is sent without one transaction (and one fsync) per read."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.audit.models import AuditEvent
from aftercare.auth.tokens import Principal
from aftercare.db.types import uuid7


def _audit_table() -> Table:
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    return table


_events = _audit_table()
_insert_events = insert(_events)

# Set per request by the request-id middleware; read here so services need not thread it through.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


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
    connection = await session.connection()  # Core on the caller's transaction, no ORM execute
    await connection.execute(
        _insert_events,
        _row(actor=actor, action=action, resource=resource, graduate_id=graduate_id, now=now,
             resource_id=resource_id),
    )


def _row(
    *, actor: Principal | None, action: str, resource: str, graduate_id: uuid.UUID | None, now: datetime,
    resource_id: str | None,
) -> dict[str, Any]:
    return {
        "id": uuid7(), "at": now, "actor_id": actor.user_id if actor else None,
        "actor_role": actor.role if actor else "system", "action": action, "resource": resource,
        "graduate_id": graduate_id, "resource_id": resource_id, "request_id": current_request_id.get(),
    }


async def record_staff_read(
    session: AsyncSession, *, actor: Principal, resource: str, graduate_id: uuid.UUID | None, now: datetime
) -> None:
    """Staff reads are audited; a graduate reading their own record is not (it is theirs)."""
    if actor.is_staff:
        await record(session, actor=actor, action="read", resource=resource, graduate_id=graduate_id, now=now)


async def commit_staff_read(
    session: AsyncSession, *, actor: Principal, resource: str, graduate_id: uuid.UUID | None, now: datetime
) -> None:
    """Audit a staff read that has already been done, and return once its row is committed.

    For read paths that read outside a write transaction (``db.engine.read_statement`` or
    ``read_transaction``): call it after the read has ended (on SQLite a caller still holding the write lock would wait for
    itself) and before the data leaves the server. The rows of concurrent reads are committed together
    (see ``_ReadAuditCommitter``); if that commit fails, this raises and the read must fail with it,
    so a staff read is never answered without a durable record.
    """
    if not actor.is_staff:
        return
    bind = session.bind
    assert isinstance(bind, AsyncEngine), "commit_staff_read needs a session bound to an AsyncEngine"
    row = _row(actor=actor, action="read", resource=resource, graduate_id=graduate_id, now=now, resource_id=None)
    await _committer_for(bind).commit(row)


class _ReadAuditCommitter:
    """Group commit for read audit rows: the first row starts a flush; rows that arrive while a
    commit is in flight wait for the next one, which takes them all in one INSERT and one COMMIT.
    No timer: under light load a row is committed at once, under heavy load the batches grow."""

    def __init__(self, engine: AsyncEngine, loop: asyncio.AbstractEventLoop) -> None:
        self.engine, self.loop = engine, loop
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def commit(self, row: dict[str, Any]) -> None:
        done: asyncio.Future[None] = self.loop.create_future()
        self._pending.append((row, done))
        if self._flusher is None:
            self._flusher = self.loop.create_task(self._flush())
        # Shielded: a client that disconnects must not cancel a commit other reads wait for.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._insert([row for row, _ in batch])
                except BaseException as exc:
                    _settle(batch, exc)
                    raise
                _settle(batch, None)
        except Exception:
            pass  # each waiter got the error; later rows start a new flush
        finally:
            self._flusher = None
            if self._pending:  # cancelled (shutdown) with rows waiting: fail them, never leave them
                _settle(self._pending, RuntimeError("the audit writer stopped before committing"))
                self._pending = []

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """All of ``rows`` committed, or none. On SQLite, one transaction through the writer gate (in
        autocommit each row would be a transaction and an fsync of its own). On PostgreSQL, in
        autocommit: one row is one INSERT, several go through asyncpg's executemany, which is atomic
        (one implicit transaction, closed by one Sync); either way the server commits before it
        answers, and BEGIN and COMMIT would be two more round trips."""
        if self.engine.dialect.name == "sqlite":
            async with self.engine.begin() as connection:
                await connection.execute(_insert_events, rows)
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(_insert_events, rows)


def _settle(batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error if isinstance(error, Exception) else RuntimeError("audit commit cancelled"))


_committers: weakref.WeakKeyDictionary[Engine, _ReadAuditCommitter] = weakref.WeakKeyDictionary()


def _committer_for(engine: AsyncEngine) -> _ReadAuditCommitter:
    """One committer per engine and event loop (an engine's connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    committer = _committers.get(engine.sync_engine)
    if committer is None or committer.loop is not loop:
        committer = _committers[engine.sync_engine] = _ReadAuditCommitter(engine, loop)
    return committer
