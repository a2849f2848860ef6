"""Recording a dose (``POST /v1/graduates/{id}/doses``): idempotent by ``client_id``, one record per
dose, and only for a dose the graduate's plan schedules, within its local day or the next.

One transaction: read the replay, the graduate (locked: their check-ins wait, so a check-in either
sees this dose or came first), the plan and the zone history; decide; write the dose and its audit
row; commit. A dose that arrives after its day's check-in does not judge that day again
(``rules.doses``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins.service import fingerprint
from aftercare.db.types import uuid7
from aftercare.doses import schemas
from aftercare.doses import service as doses
from aftercare.errors import Discharged, DoseExists, ValidationFailed
from aftercare.graduates.service import lock_graduate
from aftercare.graduates.zones import zone_history
from aftercare.i18n import _
from aftercare.plans.reads import current_plan_body
from aftercare.scheduling.localtime import day_bounds, local_today
from aftercare.scheduling.recurrence import occurrences

_INSTANT = timedelta(seconds=1)


async def record_dose(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.DoseCreate,
    actor: Principal,
    now: datetime,
) -> tuple[schemas.Dose, bool]:
    """The dose recorded (201) or found again (200: replayed)."""
    body_print = fingerprint(data)
    try:
        return await _record(session, graduate_id=graduate_id, data=data, fp=body_print, actor=actor, now=now)
    except IntegrityError:
        # The phone's retry raced itself (or another tap on the same dose): the winner is stored
        # now, and the same decision again finds it: a replay (200), or 409.
        return await _record(session, graduate_id=graduate_id, data=data, fp=body_print, actor=actor, now=now)


async def _record(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.DoseCreate,
    fp: str,
    actor: Principal,
    now: datetime,
) -> tuple[schemas.Dose, bool]:
    async with session.begin():
        # Read: the replay comes before any other check (the contract).
        replay = await doses.find_replay(
            session, graduate_id=graduate_id, client_id=data.client_id, fingerprint=fp
        )
        if replay is not None:
            return replay, True
        graduate = await lock_graduate(session, graduate_id)
        if graduate.status == "discharged":
            raise Discharged(_("the graduate is discharged from aftercare; asking for help still works"))
        plan = await current_plan_body(session, graduate_id)
        zones = await zone_history(session, graduate_id, current=graduate.timezone)

        # Decide: a dose of a plan medication, on its schedule, recorded within its day or the next.
        medication = next((m for m in plan.medications if m.id == data.medication_id), None) if plan else None
        if medication is None:
            raise ValidationFailed.one("medication_id", _("not a medication of the graduate's plan"))
        scheduled_for = data.scheduled_for
        tz = zones.at(scheduled_for)
        schedule = medication.schedule
        if scheduled_for not in occurrences(
            schedule.rrule, schedule.start_local, tz, scheduled_for, scheduled_for + _INSTANT
        ):
            raise ValidationFailed.one("scheduled_for", _("not a dose of this medication's schedule"))
        local_date = local_today(scheduled_for, tz)
        opens = day_bounds(local_date, tz)[0]
        closes = day_bounds(local_date + timedelta(days=1), tz)[1]
        if not opens <= now < closes:
            raise ValidationFailed.one(
                "scheduled_for",
                _("a dose is recorded from the start of its local day to the end of the next"),
            )
        at = now if data.at is None else data.at
        if not opens <= at <= now:
            raise ValidationFailed.one("at", _("must lie between the start of the dose's local day and now"))
        existing = await doses.find_dose(
            session, graduate_id=graduate_id, medication_id=medication.id, scheduled_for=scheduled_for
        )
        if existing is not None:
            raise DoseExists(_("this dose is recorded already"), dose_id=str(existing))

        # Write.
        dose = schemas.Dose(
            id=uuid7(),
            graduate_id=graduate_id,
            client_id=data.client_id,
            medication_id=medication.id,
            scheduled_for=scheduled_for,
            local_date=local_date,
            status=data.status,
            at=at,
            received_at=now,
        )
        doses.add_dose(session, dose, fingerprint=fp)
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="dose",
            graduate_id=graduate_id,
            resource_id=str(dose.id),
            now=now,
        )
    # Committed.
    return dose, False
