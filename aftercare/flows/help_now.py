""" "I need help now": never refused by once-a-day or window rules; opens or raises a critical
safety alert at once (with its escalation) and re-opens an acknowledged one, since a new cry for help
needs a new answer. Idempotent by ``client_id``: a phone's retry gets the very same answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.service import AlertChanges
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins import schemas
from aftercare.checkins import service as checkins
from aftercare.db.types import uuid7
from aftercare.graduates.service import lock_graduate
from aftercare.i18n import locale_of
from aftercare.plans import reads as plans
from aftercare.program.service import current_rules
from aftercare.rules.engine import help_request_hit
from aftercare.scheduling import localtime


async def request_help(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.HelpCreate,
    actor: Principal,
    crisis_line: str,
    now: datetime,
) -> tuple[schemas.HelpResult, bool]:
    """``POST .../help``; returns (body, replayed)."""
    fingerprint = checkins.fingerprint(data)
    async with session.begin():
        # Read. The graduate first: a phone's retries queue on the lock, then find their twin.
        graduate = await lock_graduate(session, graduate_id)
        replay = await checkins.find_help_replay(
            session, graduate_id=graduate_id, client_id=data.client_id, fingerprint=fingerprint
        )
        if replay is not None:
            return replay, True
        rules = await current_rules(session)
        plan = await plans.current_plan_body(session, graduate_id)
        alerts = await AlertChanges.load(session, [graduate_id], rules)

        # Decide.
        today = localtime.local_today(now, localtime.zone(graduate.timezone))
        touched = alerts.apply(
            graduate_id=graduate_id,
            counselor_id=graduate.counselor_id,
            hits=[help_request_hit(today)],
            local_date=today,
            now=now,
            reopen_acknowledged=True,
        )
        crisis = checkins.crisis_for(rules.program, locale_of(graduate.locale), operator_line=crisis_line)
        result = schemas.HelpResult(
            id=uuid7(),
            received_at=now,
            alert_id=touched[0] if touched else None,
            crisis=checkins.crisis_plan_of(plan, crisis),
            message=checkins.help_message(crisis),
        )

        # Write.
        await alerts.write(session)
        checkins.add_help_request(
            session, graduate_id=graduate_id, data=data, result=result, fingerprint=fingerprint
        )
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="help_request",
            graduate_id=graduate_id,
            resource_id=str(result.id),
            now=now,
        )
    # Committed.
    return result, False
