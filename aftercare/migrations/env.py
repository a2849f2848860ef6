"""Alembic environment: runs on the connection ``aftercare.db.migrate`` hands it (async engine,
SQLite or PostgreSQL). ``render_as_batch`` lets ALTERs work on SQLite by recreating tables."""

from __future__ import annotations

from alembic import context

from aftercare.migrations.models import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
