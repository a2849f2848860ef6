"""Engines and sessions for SQLite (embedded default) and PostgreSQL (asyncpg).

SQLite's stdlib driver opens transactions lazily, so a read-check-write in one transaction can lose
updates to another writer. We turn the driver's own transaction handling off and emit
``BEGIN IMMEDIATE`` ourselves, so every transaction takes the write lock up front and
``busy_timeout`` queues the next writer instead of failing it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from aftercare.config import Settings


def make_engine(settings: Settings, *, url: str | None = None, **kwargs: Any) -> AsyncEngine:
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, synchronous=settings.sqlite_synchronous)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine, *, synchronous: str) -> None:
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        synchronous = "FULL"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
            f"PRAGMA synchronous={synchronous}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services build responses from objects after committing.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
