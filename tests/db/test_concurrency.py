"""Concurrent writers and readers on both engines: on SQLite, writers queue on the in-process gate
before ``BEGIN IMMEDIATE`` (no "database is locked", no busy-handler sleeps), every read-check-write
survives, and a read-only transaction runs beside an open write transaction."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.audit import service as audit
from aftercare.audit.models import AuditEvent
from aftercare.auth.principal import Principal
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory, read_connection, read_transaction
from aftercare.db.types import uuid7
from aftercare.graduates.models import Graduate
from tests.conftest import T0


async def _graduate(engine: AsyncEngine) -> uuid.UUID:
    graduate_id = uuid7()
    async with engine.begin() as connection:
        await connection.execute(
            insert(Graduate).values(
                id=graduate_id,
                display_name="G",
                timezone="UTC",
                created_at=T0,
                updated_at=T0,
                streak_days=0,
            )
        )
    return graduate_id


async def _audit_count(engine: AsyncEngine, graduate_id: uuid.UUID) -> int:
    async with read_connection(engine) as connection:
        count = await connection.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.graduate_id == graduate_id)
        )
    return int(count or 0)


async def test_fifty_concurrent_write_transactions_all_commit(engine: AsyncEngine) -> None:
    graduate_id = await _graduate(engine)
    factory = make_session_factory(engine)
    actor = Principal(user_id=uuid7(), role="counselor")

    async def write() -> None:
        async with factory() as session, session.begin():
            await audit.record(
                session, actor=actor, action="update", resource="bench", graduate_id=graduate_id, now=T0
            )

    results = await asyncio.gather(*(write() for _ in range(50)), return_exceptions=True)
    assert [r for r in results if r is not None] == []
    assert await _audit_count(engine, graduate_id) == 50


async def test_a_hundred_concurrent_increments_all_survive(engine: AsyncEngine) -> None:
    """Read, then write what was read plus one: a lost update would leave fewer than 100."""
    graduate_id = await _graduate(engine)
    factory = make_session_factory(engine)
    streak = select(Graduate.streak_days).where(Graduate.id == graduate_id).with_for_update()

    async def increment() -> None:
        async with factory() as session, session.begin():
            current = await session.scalar(streak)
            await asyncio.sleep(0)  # let the others run between our read and our write
            await session.execute(
                update(Graduate).where(Graduate.id == graduate_id).values(streak_days=(current or 0) + 1)
            )

    await asyncio.gather(*(increment() for _ in range(100)))
    async with factory() as session, read_transaction(session):
        assert await session.scalar(select(Graduate.streak_days).where(Graduate.id == graduate_id)) == 100


async def test_a_read_transaction_runs_beside_an_open_write_transaction(engine: AsyncEngine) -> None:
    graduate_id = await _graduate(engine)
    factory = make_session_factory(engine)
    async with factory() as writer, writer.begin():
        await writer.execute(
            update(Graduate).where(Graduate.id == graduate_id).values(display_name="Changed")
        )
        async with factory() as reader, asyncio.timeout(2), read_transaction(reader):
            name = await reader.scalar(select(Graduate.display_name).where(Graduate.id == graduate_id))
    assert name == "G"  # the writer had not committed yet


async def test_staff_read_audit_rows_are_committed_before_the_call_returns(engine: AsyncEngine) -> None:
    graduate_id = await _graduate(engine)
    factory = make_session_factory(engine)
    counselor = Principal(user_id=uuid7(), role="counselor")
    graduate = Principal(user_id=uuid7(), role="graduate", graduate_id=graduate_id)

    async def read(actor: Principal) -> None:
        async with factory() as session:
            await audit.commit_staff_read(
                session, actor=actor, resource="plan", graduate_id=graduate_id, now=T0
            )

    await asyncio.gather(*(read(counselor) for _ in range(40)), *(read(graduate) for _ in range(5)))
    assert await _audit_count(engine, graduate_id) == 40  # a graduate's own reads are not audited


async def test_a_staff_read_whose_audit_row_cannot_be_committed_fails(tmp_path: Path) -> None:
    # A database without the audit table: the commit fails, and so must the read that waits on it.
    bare = make_engine(Settings(data_dir=tmp_path), url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        async with make_session_factory(bare)() as session:
            with pytest.raises(OperationalError):
                await audit.commit_staff_read(
                    session,
                    actor=Principal(user_id=uuid7(), role="counselor"),
                    resource="plan",
                    graduate_id=uuid7(),
                    now=T0,
                )
    finally:
        await bare.dispose()
