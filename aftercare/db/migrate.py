"""Schema migrations with Alembic, driven from code (the CLI and tests), on both engines.

Each feature slice owns a branch of revisions rooted at the first one (``0001``), so slices built
side by side never fight over one linear history; ``migrate`` upgrades every head. On PostgreSQL
it holds an advisory lock, so replicas started together migrate once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
_ADVISORY_LOCK_KEY = 0x61667463  # "aftc"


class SchemaBehind(RuntimeError):
    """The database is not at the code's migration head."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database to head."""

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        command.upgrade(alembic_config(connection), "heads")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def current_revisions(engine: AsyncEngine) -> set[str]:
    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def ensure_current(engine: AsyncEngine) -> None:
    """Refuse to serve a schema that is behind the code, naming the command that fixes it."""
    current, heads = await current_revisions(engine), head_revisions()
    if current != heads:
        raise SchemaBehind(
            f"the database schema is at {sorted(current) or 'nothing'}, the code needs {sorted(heads)}: "
            "run `aftercare migrate`"
        )


def autogenerate(engine_url: str, message: str, **kwargs: Any) -> None:
    """Developer helper behind ``aftercare migrate --autogenerate MESSAGE`` (writes a revision file)."""
    from sqlalchemy import create_engine

    sync_url = engine_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(sync_url).begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True, **kwargs)
