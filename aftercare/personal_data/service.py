"""Deletion requests as rows: the graduate's request, the supervisors' list, and the tombstone an
erasure leaves. Readers and writers here run in the caller's transaction and never commit, except
``list_requests``, a read of its own."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.types import uuid7
from aftercare.pagination import Instant, Keyset, before_key
from aftercare.personal_data import schemas
from aftercare.personal_data.models import DeletionRequest


def to_schema(row: DeletionRequest) -> schemas.DeletionRequest:
    return schemas.DeletionRequest(
        id=row.id,
        graduate_id=row.graduate_id,
        status=row.status,
        requested_at=row.requested_at,
        requested_by_graduate=row.requested_by_graduate,
        reason=row.reason,
        erased_at=row.erased_at,
        erased_by=row.erased_by,
        erasure_reason=row.erasure_reason,
        kept_clinical_answers=row.kept_clinical_answers,
    )


def add_request(
    session: AsyncSession, *, graduate_id: uuid.UUID, reason: str | None, now: datetime
) -> DeletionRequest:
    row = DeletionRequest(
        id=uuid7(),
        graduate_id=graduate_id,
        status="pending",
        requested_at=now,
        requested_by_graduate=True,
        reason=reason,
    )
    session.add(row)
    return row


async def tombstone_of(session: AsyncSession, graduate_id: uuid.UUID) -> DeletionRequest | None:
    """The completed request of an erased graduate (one per erasure, and a graduate is erased once)."""
    found: DeletionRequest | None = await session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.graduate_id == graduate_id, DeletionRequest.status == "completed"
        )
    )
    return found


async def complete(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    actor: Principal,
    reason: schemas.ErasureReason,
    kept_clinical_answers: bool,
    now: datetime,
) -> DeletionRequest:
    """Mark the graduate's pending requests done; the newest becomes the tombstone (who, when, why).
    Without one (a supervisor erasing unasked) the tombstone is a new row."""
    pending = list(
        await session.scalars(
            select(DeletionRequest)
            .where(DeletionRequest.graduate_id == graduate_id, DeletionRequest.status == "pending")
            .order_by(DeletionRequest.requested_at.desc(), DeletionRequest.id.desc())
        )
    )
    for row in pending[1:]:
        await session.delete(row)  # an earlier request of the same person: one tombstone is enough
    if pending:
        row = pending[0]
    else:
        row = DeletionRequest(
            id=uuid7(), graduate_id=graduate_id, requested_at=now, requested_by_graduate=False
        )
        session.add(row)
    row.status = "completed"
    row.reason = None
    row.erased_at = now
    row.erased_by = actor.user_id
    row.erasure_reason = reason
    row.kept_clinical_answers = kept_clinical_answers
    await session.flush()
    return row


_CURSORS = Keyset[datetime](Instant)  # the list's keys: (requested_at, id)


async def list_requests(
    session: AsyncSession,
    *,
    reader: Principal,
    status: schemas.DeletionRequestStatus | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.DeletionRequestPage:
    """Newest first, keyset-paged on (requested_at, id) (``ix_deletion_requests_requested_at_id``, or
    ``_status_requested_at_id`` by status). Audited: the graduates' reasons are read."""
    key = _CURSORS.decode(cursor)
    query = (
        select(DeletionRequest)
        .order_by(DeletionRequest.requested_at.desc(), DeletionRequest.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(DeletionRequest.status == status)
    if key is not None:
        query = query.where(
            before_key(DeletionRequest.requested_at, DeletionRequest.id, key.sort_value, key.id)
        )
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=reader, resource="deletion_requests", graduate_id=None, now=now
        )
    page = rows[:limit]
    return schemas.DeletionRequestPage(
        items=[to_schema(row) for row in page],
        next_cursor=_CURSORS.encode(page[-1].requested_at, page[-1].id) if len(rows) > limit else None,
    )
