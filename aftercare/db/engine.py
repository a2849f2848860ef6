"""Engines and sessions for SQLite (embedded default) and PostgreSQL (asyncpg).

SQLite's stdlib driver opens transactions lazily, so a read-check-write in one transaction can lose
updates to another writer. We turn the driver's own transaction handling off and emit
``BEGIN IMMEDIATE`` ourselves, so every transaction takes the write lock up front.

SQLite allows one writer at a time. Left to itself, a second writer waits in SQLite's busy handler,
which polls by sleeping in growing steps (up to 100 ms): with a few dozen concurrent writers, most of
the time is spent asleep with the lock free. So within a process, writers queue on an asyncio lock
(the ``_WriterGate``) before ``BEGIN IMMEDIATE`` and are handed the lock the moment the previous
transaction's COMMIT or ROLLBACK returns; ``busy_timeout`` still covers other processes (the CLI).

Reads that write nothing use ``read_transaction``: a deferred ``BEGIN`` that takes no write lock, so
in WAL mode they run on other pooled connections beside the writer and beside each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from aftercare.config import Settings

# Execution option marking a connection whose transaction only reads (see ``read_transaction``).
READ_ONLY = "aftercare_read_only"
BUSY_TIMEOUT_MS = 5000
_BEGIN = "aftercare_begin"  # connection-info key: the BEGIN statement the begin event chose


def make_engine(settings: Settings, *, url: str | None = None, **kwargs: Any) -> AsyncEngine:
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        # Readers run beside the one writer; each pooled connection is an aiosqlite thread.
        kwargs.setdefault("pool_size", 16)
        kwargs.setdefault("max_overflow", 16)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, synchronous=settings.sqlite_synchronous)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class _WriterGate:
    """The in-process SQLite write lock: taken before ``BEGIN IMMEDIATE``, given back when the DBAPI
    connection's COMMIT or ROLLBACK has returned (or the connection is closed or invalidated).

    Waiting is bounded by ``busy_timeout`` and fails the way SQLite would ("database is locked"), so
    a task that wrongly nests two write transactions gets an error, not a hang.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._holder: Any = None

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: asyncio locks cannot be shared across loops (tests, CLI runs).
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {other: held for other, held in self._locks.items() if not other.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def acquire(self, dbapi_connection: Any) -> None:
        """Called from SQLAlchemy's sync layer inside its greenlet: ``await_`` suspends this task."""
        if self._holder is dbapi_connection:
            return
        try:
            await_(asyncio.wait_for(self._lock().acquire(), self._timeout))
        except TimeoutError as exc:
            raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked")) from exc
        self._holder = dbapi_connection

    def release(self, dbapi_connection: Any) -> None:
        if self._holder is not dbapi_connection:
            return
        self._holder = None
        self._lock().release()


def _configure_sqlite(engine: AsyncEngine, *, synchronous: str) -> None:
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        synchronous = "FULL"
    gate = _WriterGate(BUSY_TIMEOUT_MS / 1000)
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            f"PRAGMA synchronous={synchronous}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        fairy = connection.connection
        if connection.get_execution_options().get(READ_ONLY):
            fairy.info[_BEGIN] = "BEGIN"
        else:
            gate.acquire(fairy.dbapi_connection)
            fairy.info[_BEGIN] = "BEGIN IMMEDIATE"

    def _do_begin(fairy: Any) -> None:
        # Straight on the aiosqlite connection: one hop into its thread, where a statement through
        # SQLAlchemy's cursor adapter costs four (cursor, execute, fetch, close). Called inside
        # SQLAlchemy's error handling, so a failure surfaces as its OperationalError.
        try:
            await_(fairy.driver_connection.execute(fairy.info.pop(_BEGIN, "BEGIN IMMEDIATE")))
        except BaseException:
            gate.release(fairy.dbapi_connection)
            raise

    # The transaction ends when the driver's COMMIT/ROLLBACK returns: only then may the next
    # writer begin. The pool's reset-on-return goes through ``do_rollback`` as well.
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit_then_release(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    def _rollback_then_release(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    dialect.do_begin = _do_begin  # type: ignore[method-assign,assignment]
    dialect.do_commit = _commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = _rollback_then_release  # type: ignore[method-assign]

    @event.listens_for(sync_engine.pool, "invalidate")
    @event.listens_for(sync_engine.pool, "close")
    def _on_gone(dbapi_connection: Any, *_: Any) -> None:
        gate.release(dbapi_connection)


def _raw(connection: Any) -> Any:
    """The DBAPI connection under the pool's proxy (the pool's reset passes its proxy)."""
    return getattr(connection, "dbapi_connection", connection)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services build responses from objects after committing.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def read_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A transaction that only reads: on SQLite a deferred ``BEGIN`` (no write lock, runs beside the
    writer in WAL mode), elsewhere an ordinary one. It must not write: on SQLite a write in it could
    fail to upgrade its lock. It ends with a commit (nothing to flush; it ends the snapshot)."""
    async with session.begin():
        await session.connection(execution_options={READ_ONLY: True})
        yield session


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A Core connection in a read-only transaction (see ``read_transaction``), for checks that
    need no ORM session (the access guard)."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        async with connection.begin():
            yield connection
