"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

_last_uuid7 = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by
    creation time and keyset pagination on ``id`` follows insertion order. Within one process ids are
    strictly increasing even inside one millisecond (RFC 9562 method 3: the random part counts up)."""
    global _last_uuid7
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    if value <= _last_uuid7:
        # Same millisecond (or a clock step back): count up from the last id, keeping version bits.
        value = _last_uuid7 + 1
    _last_uuid7 = value
    return uuid.UUID(int=value)


class DateTimeUTC(TypeDecorator[datetime]):
    """An aware UTC timestamp on both engines.

    SQLite's ``DateTime(timezone=True)`` silently drops the offset (12:00-06:00 comes back as a bare
    12:00), so naive values are refused on the way in and UTC is attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON documents (plans, evidence, aggregates): JSONB on PostgreSQL, JSON text on SQLite.
JSONDoc: Any = JSON().with_variant(JSONB(), "postgresql")
