"""Schema migrations with Alembic, driven from code (the CLI and tests), on both engines.

Each feature slice owns a branch of revisions rooted at the first one (``0001``), so slices built
side by side never fight over one linear history; ``migrate`` upgrades every head (a revision whose
tables come from several slices, like ``0008``, joins their branches). On PostgreSQL it holds an
advisory lock, so replicas started together migrate once. The scripts live in ``aftercare/migrations``,
inside the package, so an installed (not editable) Aftercare migrates too.
"""

from __future__ import annotations

from collections.abc import Callable
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
    await run_alembic(engine, lambda config: command.upgrade(config, "heads"))


async def run_alembic(engine: AsyncEngine, step: Callable[[Config], None]) -> None:
    """Run an Alembic command (``step``) in one transaction.

    On PostgreSQL under an advisory lock. On SQLite with foreign keys off: SQLite cannot add a
    constraint to a table, so batch mode copies the table and drops the old one, and with foreign
    keys on that DROP deletes the rows of every table referring to it (``ON DELETE CASCADE``).
    SQLite's own recipe for such changes ("Making Other Kinds Of Table Schema Changes" in its ALTER
    TABLE page) is followed: foreign keys off before BEGIN (inside a transaction the PRAGMA does
    nothing), ``PRAGMA foreign_key_check`` before COMMIT if any revision ran (it reads every
    referring row, so not on each start at head). The connection is then discarded, so none with
    foreign keys off goes back to the pool.
    """

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        before = _current_heads(connection)
        step(alembic_config(connection))
        if connection.dialect.name == "sqlite" and _current_heads(connection) != before:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(
                    f"rows refer to nothing (table, rowid, parent, fk), rolled back: {broken[:5]}"
                )

    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Straight to the driver: a statement through SQLAlchemy would begin a transaction first.
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await (await driver.execute("PRAGMA foreign_keys=OFF")).close()
        try:
            async with connection.begin():
                await connection.run_sync(run)
        finally:
            if sqlite:
                await connection.invalidate()


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_heads)


def _current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


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
