"""One alert's whole story for the counselor who must act on it (``GET /v1/alerts/{id}``).

It reads across slices: the alert and its event log (alerts), the check-ins behind it and the words
of any "help now" that raised it (checkins), the pushes about it (push) and what staff did (outreach),
all in one transaction so the parts agree, and audits the read in that transaction before anything
leaves. What it returns holds notes and a graduate's own words: it goes to staff in reach over the
authenticated API only, never into a push, the stream or a log line.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import schemas
from aftercare.alerts import service as alerts
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins import service as checkins
from aftercare.outreach import service as outreach
from aftercare.push import service as push


async def alert_detail(
    session: AsyncSession, alert_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.AlertDetail:
    async with session.begin():
        alert = await alerts.load_for_actor(session, alert_id, actor, now=now, for_update=False)
        events = await alerts.events_of(session, alert.id)
        behind = await checkins.checkins_behind(
            session,
            graduate_id=alert.graduate_id,
            checkin_ids={e.checkin_id for e in events if e.checkin_id is not None},
            local_dates=alerts.evidence_days(alert),
        )
        help_requests = await checkins.help_requests_for(session, alert.id)
        notifications = await push.notifications_about(session, alert.id)
        outreach_records = await outreach.outreach_for(session, alert.id)
        await audit.record_staff_read(
            session,
            actor=actor,
            resource="alert",
            graduate_id=alert.graduate_id,
            resource_id=str(alert.id),
            now=now,
        )
    return schemas.AlertDetail(
        **msgspec.structs.asdict(alerts.to_schema(alert, now=now)),
        checkins=behind,
        help_requests=help_requests,
        events=events,
        notifications=notifications,
        outreach=outreach_records,
    )
