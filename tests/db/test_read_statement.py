"""``read_statement``: one read outside any transaction, on both engines. It must see only committed
data, must not wait for (or take) SQLite's write lock, and must leave its pooled connection clean for
the transactions that use it next."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.db.engine import make_session_factory, read_statement
from aftercare.db.types import uuid7
from aftercare.graduates.models import Graduate
from tests.conftest import T0

_name_of = select(Graduate.display_name).where(Graduate.id == bindparam("graduate_id"))


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


async def test_it_reads_committed_rows_beside_an_open_write_transaction(engine: AsyncEngine) -> None:
    graduate_id = await _graduate(engine)
    factory = make_session_factory(engine)
    async with factory() as writer, writer.begin():
        await writer.execute(
            update(Graduate).where(Graduate.id == graduate_id).values(display_name="Changed")
        )
        # On SQLite the writer holds the in-process write gate: a read that queued on it would time out.
        async with asyncio.timeout(2):
            rows = await read_statement(engine, _name_of, {"graduate_id": graduate_id})
    assert [tuple(row) for row in rows] == [("G",)]
    assert [tuple(r) for r in await read_statement(engine, _name_of, {"graduate_id": graduate_id})] == [
        ("Changed",)
    ]


async def test_its_connections_go_back_clean_for_write_transactions(engine: AsyncEngine) -> None:
    """Many reads, then many writes on the same pooled connections: a read that left a transaction
    (or the write gate) behind would make the writes fail or hang."""
    graduate_id = await _graduate(engine)
    await asyncio.gather(*(read_statement(engine, _name_of, {"graduate_id": graduate_id}) for _ in range(40)))
    factory = make_session_factory(engine)

    async def rename(index: int) -> None:
        async with factory() as session, session.begin():
            await session.execute(
                update(Graduate).where(Graduate.id == graduate_id).values(display_name=f"G{index}")
            )

    async with asyncio.timeout(10):
        await asyncio.gather(*(rename(i) for i in range(40)))
    (row,) = await read_statement(engine, _name_of, {"graduate_id": graduate_id})
    assert row[0].startswith("G")
    assert not (await read_statement(engine, _name_of, {"graduate_id": uuid7()}))
