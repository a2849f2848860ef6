"""Dose records: their readers and writers, and listing.

Recording a dose crosses slices (the graduate, their plan and time-zone history), so it is a flow
(``flows/doses.py``) that reads and writes with the functions here; nothing here commits but
``list_doses``, this slice's own read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.base import table_of
from aftercare.doses import schemas
from aftercare.doses.models import Dose
from aftercare.errors import IdempotencyConflict
from aftercare.i18n import _
from aftercare.pagination import by_day_newest_first, next_day_cursor

_doses = table_of(Dose)
# Built once: the check-in path runs it for every batch whose graduates take medication. Served by
# ix_doses_graduate_id_local_date_id.
_taken_statement = select(_doses.c.graduate_id, _doses.c.local_date, _doses.c.medication_id).where(
    _doses.c.graduate_id.in_(bindparam("graduate_ids", expanding=True)),
    _doses.c.local_date.in_(bindparam("days", expanding=True)),
    _doses.c.status == "taken",
)


async def taken_by_day(
    connection: AsyncConnection, graduate_ids: Iterable[uuid.UUID], days: Iterable[date]
) -> dict[tuple[uuid.UUID, date], set[str]]:
    """The medications with a dose marked taken, per (graduate, local day), for these graduates and
    days; read in the caller's transaction, so a dose recorded after it does not count."""
    found: dict[tuple[uuid.UUID, date], set[str]] = {}
    graduate_ids, days = sorted(set(graduate_ids)), sorted(set(days))
    if not graduate_ids or not days:
        return found
    for graduate_id, local_date, medication_id in await connection.execute(
        _taken_statement, {"graduate_ids": graduate_ids, "days": days}
    ):
        found.setdefault((graduate_id, local_date), set()).add(medication_id)
    return found


async def find_replay(
    session: AsyncSession, *, graduate_id: uuid.UUID, client_id: uuid.UUID, fingerprint: str
) -> schemas.Dose | None:
    """The dose an earlier request with this ``client_id`` recorded; 409 if its body differed."""
    row = await session.scalar(
        select(Dose).where(Dose.graduate_id == graduate_id, Dose.client_id == client_id)
    )
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyConflict(_("this client_id was used for a different dose"))
    return to_schema(row)


async def find_dose(
    session: AsyncSession, *, graduate_id: uuid.UUID, medication_id: str, scheduled_for: datetime
) -> uuid.UUID | None:
    """The id of the record of this dose, if one exists."""
    return await session.scalar(
        select(Dose.id).where(
            Dose.graduate_id == graduate_id,
            Dose.medication_id == medication_id,
            Dose.scheduled_for == scheduled_for,
        )
    )


def add_dose(session: AsyncSession, dose: schemas.Dose, *, fingerprint: str) -> None:
    session.add(Dose(**{name: getattr(dose, name) for name in _FIELDS}, fingerprint=fingerprint))


_FIELDS = schemas.Dose.__struct_fields__


def to_schema(row: Dose) -> schemas.Dose:
    return schemas.Dose(**{name: getattr(row, name) for name in _FIELDS})


async def list_doses(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    actor: Principal,
    start: date | None,
    end: date | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.DosePage:
    """Newest local day first; keyset on (local_date, id), served by ix_doses_graduate_id_local_date_id.
    A staff read is audited."""
    query = by_day_newest_first(
        select(Dose).where(Dose.graduate_id == graduate_id),
        day=Dose.local_date,
        item_id=Dose.id,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
    )
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=actor, resource="doses", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.DosePage(
        items=[to_schema(row) for row in page],
        next_cursor=next_day_cursor(rows, limit),
    )
