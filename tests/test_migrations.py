"""After ``migrate`` the database has exactly the models' schema, on both engines; migrating again
changes nothing."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.db.migrate import current_revisions, ensure_current, head_revisions, migrate
from aftercare.migrations.models import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, metadata))


def _snapshot(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
            sorted(str(fk["name"]) for fk in inspector.get_foreign_keys(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], "\n".join(map(str, differences))


async def test_migrate_twice_is_a_no_op(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        before = await connection.run_sync(_snapshot)
    await migrate(engine)
    async with engine.connect() as connection:
        after = await connection.run_sync(_snapshot)
    assert after == before
    assert await current_revisions(engine) == head_revisions()
    await ensure_current(engine)
    assert set(before) >= {
        "users",
        "graduates",
        "refresh_tokens",
        "enrollment_codes",
        "audit_events",
        "alembic_version",
    }
