"""SQLite only: the statements of a write transaction this process holds, and lone key lookups
(``read_statement``), run on the event loop's thread; BEGIN, COMMIT and ``read_transaction``'s
statements run in the connection's own thread. A failed statement, a rollback or a closed
connection must never leave a connection marked inline."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aftercare.config import Settings
from aftercare.db.engine import make_engine, read_connection, read_statement

_thread_of_statement = text("SELECT thread_ident()")


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(Settings(data_dir=tmp_path), pool_size=2, max_overflow=0)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


async def _teach_thread_ident(connection: AsyncConnection) -> None:
    """Give the connection ``thread_ident()``: SQLite calls back into Python on the running thread."""
    raw = await connection.get_raw_connection()
    raw.driver_connection._conn.create_function("thread_ident", 0, threading.get_ident)  # type: ignore[union-attr]


async def _ident(connection: AsyncConnection) -> int:
    """Which thread runs this connection's statements."""
    await _teach_thread_ident(connection)
    return int((await connection.execute(_thread_of_statement)).scalar_one())


async def test_a_write_transactions_statements_run_on_the_loop_thread(sqlite: AsyncEngine) -> None:
    async with sqlite.begin() as connection:
        assert await _ident(connection) == threading.get_ident()


async def test_a_read_transactions_statements_run_in_the_connections_thread(sqlite: AsyncEngine) -> None:
    async with read_connection(sqlite) as connection:
        assert await _ident(connection) != threading.get_ident()


async def test_a_lone_key_lookup_runs_on_the_loop_thread(sqlite: AsyncEngine) -> None:
    async with sqlite.connect() as connection:
        await _teach_thread_ident(connection)  # the pool's only connection, which the lookup gets next
    [row] = await read_statement(sqlite, _thread_of_statement)
    assert row[0] == threading.get_ident()


async def test_after_commit_failure_or_rollback_the_connection_goes_back_to_its_thread(
    sqlite: AsyncEngine,
) -> None:
    insert = text("INSERT INTO items (id, name) VALUES (:id, :name)")
    async with sqlite.begin() as connection:
        await connection.execute(insert, {"id": 1, "name": "first"})
    with pytest.raises(IntegrityError):
        async with sqlite.begin() as connection:
            await connection.execute(insert, {"id": 2, "name": "second"})
            await connection.execute(insert, {"id": 1, "name": "duplicate"})
    async with sqlite.connect() as connection:
        await connection.begin()
        await connection.execute(insert, {"id": 3, "name": "rolled back"})
        await connection.rollback()
    # Both pooled connections were used by write transactions above: each must be back to
    # running in its thread, with nothing left of the failed or rolled-back writes.
    async with read_connection(sqlite) as first, read_connection(sqlite) as second:
        assert await _ident(first) != threading.get_ident()
        assert await _ident(second) != threading.get_ident()
        names = (await first.execute(text("SELECT name FROM items ORDER BY id"))).scalars().all()
    assert names == ["first"]


async def test_concurrent_writers_and_lookups_interleave_without_loss(sqlite: AsyncEngine) -> None:
    insert = text("INSERT INTO items (id, name) VALUES (:id, 'x')")
    lookup = text("SELECT count(*) FROM items WHERE id = :id")

    async def write(index: int) -> None:
        async with sqlite.begin() as connection:
            await connection.execute(insert, {"id": index})
            await asyncio.sleep(0)  # hand the loop over while holding the write lock
            await connection.execute(text("UPDATE items SET name = 'y' WHERE id = :id"), {"id": index})

    async def read(index: int) -> int:
        return int((await read_statement(sqlite, lookup, {"id": index}))[0][0])

    async with asyncio.timeout(10):
        await asyncio.gather(*(write(i) for i in range(1, 41)), *(read(i) for i in range(1, 41)))
    async with read_connection(sqlite) as connection:
        rows = (await connection.execute(text("SELECT name, count(*) FROM items GROUP BY name"))).all()
    assert [tuple(row) for row in rows] == [("y", 40)]
