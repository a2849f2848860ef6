"""The outreach log: its rules (when an outreach may have happened, when a ``client_id`` is a replay),
its readers and writers, and its list.

Recording outreach may acknowledge an alert, so it is a flow (``flows/outreach.py``): it opens the
transaction, reads and writes with the functions here and the alerts' own, and commits. Nothing here
commits but ``list_outreach``, which is this slice's own read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.types import uuid7
from aftercare.errors import IdempotencyConflict, ValidationFailed
from aftercare.outreach import schemas
from aftercare.outreach.models import Outreach
from aftercare.pagination import Instant, Keyset, before_key

# Ids per IN list: well inside every driver's bound-parameter limit (SQLite's is 32,766).
_CHUNK = 1000

# A clock on a phone or a laptop runs a little ahead; more than this is not "just now".
FUTURE_LEEWAY = timedelta(minutes=5)
_encoder = msgspec.json.Encoder()


def fingerprint(data: schemas.OutreachCreate, alert_id: uuid.UUID | None) -> str:
    """Hash of the decoded body and the alert it was posted to (the same body posted to another
    alert, or without one, is another outreach). ``occurred_at`` must already be in UTC, so one
    instant written with two offsets hashes alike; null and an omitted field encode alike."""
    return hashlib.sha256(_encoder.encode((alert_id, data))).hexdigest()


def check_occurred_at(occurred_at: datetime, *, enrolled_at: datetime, now: datetime) -> None:
    """Outreach happened in the graduate's aftercare: not before they were added, not in the future."""
    if occurred_at > now + FUTURE_LEEWAY:
        raise ValidationFailed.one("occurred_at", "is in the future (more than 5 minutes ahead)")
    if occurred_at < enrolled_at:
        raise ValidationFailed.one("occurred_at", "is before the graduate was added to Aftercare")


async def find_replay(
    session: AsyncSession, *, graduate_id: uuid.UUID, client_id: uuid.UUID, fingerprint: str
) -> schemas.Outreach | None:
    """The record an earlier post with this ``client_id`` made, if there was one (a replay gets it
    back as stored); a different body under the same ``client_id`` is a 409."""
    row = await session.scalar(
        select(Outreach).where(Outreach.graduate_id == graduate_id, Outreach.client_id == client_id)
    )
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyConflict("this client_id was used for a different outreach record")
    return to_schema(row)


def add_outreach(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    alert_id: uuid.UUID | None,
    data: schemas.OutreachCreate,
    occurred_at: datetime,
    acknowledged_alert: bool,
    fingerprint: str,
    actor: Principal,
    now: datetime,
) -> Outreach:
    """Add the record to the caller's transaction."""
    row = Outreach(
        id=uuid7(),
        graduate_id=graduate_id,
        alert_id=alert_id,
        client_id=data.client_id,
        method=data.method,
        outcome=data.outcome,
        note=data.note,
        occurred_at=occurred_at,
        recorded_at=now,
        recorded_by=actor.user_id,
        acknowledged_alert=acknowledged_alert,
        fingerprint=fingerprint,
    )
    session.add(row)
    return row


def to_schema(row: Outreach) -> schemas.Outreach:
    return schemas.Outreach(
        id=row.id,
        graduate_id=row.graduate_id,
        alert_id=row.alert_id,
        client_id=row.client_id,
        method=row.method,
        outcome=row.outcome,
        note=row.note,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        acknowledged_alert=row.acknowledged_alert,
    )


async def outreach_for(session: AsyncSession, alert_id: uuid.UUID) -> list[schemas.Outreach]:
    """The outreach recorded on one alert, in the order it happened (``ix_outreach_alert_id``)."""
    rows = await session.scalars(
        select(Outreach).where(Outreach.alert_id == alert_id).order_by(Outreach.occurred_at, Outreach.id)
    )
    return [to_schema(row) for row in rows]


_CURSORS = Keyset[datetime](Instant)  # a graduate's outreach: (occurred_at, id)


async def list_outreach(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    actor: Principal,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.OutreachPage:
    """Newest first by when it happened; keyset on (occurred_at, id), a range scan of
    ``ix_outreach_graduate_id_occurred_at_id``. Both keys are immutable once recorded."""
    key = _CURSORS.decode(cursor)
    query = select(Outreach).where(Outreach.graduate_id == graduate_id)
    if key is not None:
        query = query.where(before_key(Outreach.occurred_at, Outreach.id, key.sort_value, key.id))
    query = query.order_by(Outreach.occurred_at.desc(), Outreach.id.desc()).limit(limit + 1)
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=actor, resource="outreach", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.OutreachPage(
        items=[to_schema(row) for row in page],
        next_cursor=_CURSORS.encode(page[-1].occurred_at, page[-1].id) if len(rows) > limit else None,
    )


async def first_outreach_at(
    session: AsyncSession, alert_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """The first outreach (``occurred_at``) on each of ``alert_ids`` that has any, read on
    ``ix_outreach_alert_id``; in chunks, so a year of alerts stays within any driver's limit."""
    first: dict[uuid.UUID, datetime] = {}
    for start in range(0, len(alert_ids), _CHUNK):
        rows = await session.execute(
            select(Outreach.alert_id, func.min(Outreach.occurred_at))
            .where(Outreach.alert_id.in_(alert_ids[start : start + _CHUNK]))
            .group_by(Outreach.alert_id)
        )
        first.update({alert_id: at for alert_id, at in rows if alert_id is not None})
    return first
