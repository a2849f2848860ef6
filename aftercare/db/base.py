"""The declarative base every model shares.

A constraint naming convention is required for Alembic's batch mode on SQLite (it recreates tables
and must name what it drops); ``native_enum=False`` keeps enumerations as checked strings so adding a
value is not a PostgreSQL ``ALTER TYPE``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import MetaData, Table, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aftercare.db.types import DateTimeUTC, uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTimeUTC(), uuid.UUID: Uuid()}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for hot paths written as Core statements (one round trip each)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
