"""Recording outreach: what staff did to reach a graduate and how it went, on an alert or without one.

Outreach on an alert that is waiting for an answer is that answer: it acknowledges the alert (by
whoever recorded it, now), which stops its escalation and tells the stream, exactly as
``POST /v1/alerts/{id}/acknowledge`` does (``alerts.service.acknowledge``). It does so only if it
happened since the alert last began to need an answer (it opened, rose or re-opened): a call made
before a graduate's second lapse, logged afterwards, does not answer the critical alert that lapse
raised. On an acknowledged or resolved alert outreach is history and changes nothing on it.

One transaction, idempotent by ``client_id`` like check-ins:
read: the alert (404 if there is none or it is out of the caller's reach), its graduate locked (their
acts queue here, so a retry waits for its twin and then finds it), then the replay; decide: when it
happened and whether it answers the alert; write: the record, the acknowledgement, the audit row;
commit. Nothing is logged: notes are clinical.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import service as alerts
from aftercare.alerts.models import Alert
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.errors import NotFound
from aftercare.graduates.models import Graduate
from aftercare.graduates.service import lock_graduate
from aftercare.outreach import schemas
from aftercare.outreach import service as outreach


async def record_alert_outreach(
    session: AsyncSession,
    *,
    alert_id: uuid.UUID,
    data: schemas.OutreachCreate,
    actor: Principal,
    now: datetime,
) -> tuple[schemas.Outreach, bool]:
    """``POST /v1/alerts/{id}/outreach``; returns (record, replayed)."""
    data = _in_utc(data)
    async with session.begin():
        # Read. The graduate before the alert, in the check-in flows' order (they lock the graduate,
        # then write its alerts), so the two never wait for each other in a cycle.
        graduate_id = await alerts.graduate_of(session, alert_id)
        if graduate_id is None:
            raise NotFound("alert not found")
        graduate = await lock_graduate(session, graduate_id)
        alert = await alerts.load_for_actor(session, alert_id, actor, now=now)
        return await _record(session, graduate, alert, data, actor=actor, now=now)


async def record_graduate_outreach(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.OutreachCreate,
    actor: Principal,
    now: datetime,
) -> tuple[schemas.Outreach, bool]:
    """``POST /v1/graduates/{id}/outreach`` (the guard has checked the graduate is in reach)."""
    data = _in_utc(data)
    async with session.begin():
        graduate = await lock_graduate(session, graduate_id)
        return await _record(session, graduate, None, data, actor=actor, now=now)


def _in_utc(data: schemas.OutreachCreate) -> schemas.OutreachCreate:
    """One instant, one spelling: a retry that writes ``occurred_at`` with another offset is the same body."""
    if data.occurred_at is None:
        return data
    return msgspec.structs.replace(data, occurred_at=data.occurred_at.astimezone(UTC))


async def _record(
    session: AsyncSession,
    graduate: Graduate,
    alert: Alert | None,
    data: schemas.OutreachCreate,
    *,
    actor: Principal,
    now: datetime,
) -> tuple[schemas.Outreach, bool]:
    fingerprint = outreach.fingerprint(data, alert.id if alert else None)
    replay = await outreach.find_replay(
        session, graduate_id=graduate.id, client_id=data.client_id, fingerprint=fingerprint
    )
    if replay is not None:
        return replay, True

    # Decide.
    occurred_at = data.occurred_at or now
    outreach.check_occurred_at(occurred_at, enrolled_at=graduate.created_at, now=now)
    answers = (
        alert is not None
        and alert.status == "open"
        # Its response clock restarts at each opening, raise and re-open: an answer must be newer.
        and occurred_at >= alert.response_started_at
    )

    # Write.
    if answers and alert is not None:
        await alerts.acknowledge(session, alert, actor=actor, now=now)
    row = outreach.add_outreach(
        session,
        graduate_id=graduate.id,
        alert_id=alert.id if alert else None,
        data=data,
        occurred_at=occurred_at,
        acknowledged_alert=answers,
        fingerprint=fingerprint,
        actor=actor,
        now=now,
    )
    await session.flush()  # the unique (graduate_id, client_id) holds here, inside the transaction
    await audit.record(
        session,
        actor=actor,
        action="create",
        resource="outreach",
        graduate_id=graduate.id,
        resource_id=str(row.id),
        now=now,
    )
    return outreach.to_schema(row), False
