"""A graduate's time-zone history: what other slices read and write of it.

Every zone a graduate reports (at enrollment, and each change through ``PATCH``) is a row; a past
instant's local time reads in the zone in force then (``scheduling.localtime.ZoneHistory``), so a
day before a move shows its times as the graduate's clock showed them that day.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.db.types import uuid7
from aftercare.graduates import schemas
from aftercare.graduates.models import TimezoneChange
from aftercare.scheduling.localtime import ZoneHistory

# The graduate view shows the latest changes only: a history to scan, not an archive.
HISTORY_SHOWN = 20


async def record_timezone(
    session: AsyncSession, graduate_id: uuid.UUID, timezone: str, *, now: datetime
) -> None:
    """The graduate reported ``timezone`` at ``now``; in force from then. In the caller's transaction."""
    await session.execute(
        insert(TimezoneChange).values(
            id=uuid7(), graduate_id=graduate_id, timezone=timezone, effective_from=now, reported_at=now
        )
    )


async def zone_history(session: AsyncSession, graduate_id: uuid.UUID, *, current: str) -> ZoneHistory:
    """Every zone the graduate lived by and from when (ix_timezone_changes_graduate_id_effective_from);
    ``current`` (the profile's zone) where no history was kept."""
    rows = await session.execute(
        select(TimezoneChange.effective_from, TimezoneChange.timezone).where(
            TimezoneChange.graduate_id == graduate_id
        )
    )
    return ZoneHistory(((row.effective_from, row.timezone) for row in rows), current=current)


async def latest_changes(session: AsyncSession, graduate_id: uuid.UUID) -> list[schemas.TimezoneChange]:
    """The graduate view's ``timezone_history``: the latest ``HISTORY_SHOWN`` changes, newest first."""
    rows = await session.scalars(
        select(TimezoneChange)
        .where(TimezoneChange.graduate_id == graduate_id)
        .order_by(TimezoneChange.effective_from.desc(), TimezoneChange.id.desc())
        .limit(HISTORY_SHOWN)
    )
    return [
        schemas.TimezoneChange(
            timezone=row.timezone, effective_from=row.effective_from, reported_at=row.reported_at
        )
        for row in rows
    ]
