"""Discharge from aftercare, and re-admission: acts that cross the graduates, alerts and scheduling
slices, inside the caller's transaction, which has locked the graduate's row.

A graduate is discharged

* by the sweep at the start of their local ``discharge_date``: that instant is the close of the day
  before, so the day-close row (``flows.sweep``) closes that day first, then discharges
  (``discharge_if_due``). Day closes are computed per local day (``localtime.day_bounds``), so a
  DST day moves it with the zone, and a row is claimed by one sweeper at a time (leases); the
  discharge itself only happens to an active graduate, so it happens once, whoever runs it;
* or at once by staff: ``PATCH status=discharged``, or a ``discharge_date`` that has already begun
  (``flows.profile``).

Discharging stops prompts, reminders and day closes (the graduate keeps no schedule rows), resolves
the active alerts that are not critical with a system note (``alerts.service.resolve_on_discharge``)
and makes new check-ins and amendments a 409 ``/problems/discharged``. Asking for help is never
refused: it still opens or raises a critical alert, routed and escalated as any other. The data stays.

Re-admission (``PATCH status=active``) starts a new stretch of aftercare on the local day it happens:
the silence rule counts from that day, not across the time away, and the schedule is planned again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.service import resolve_on_discharge
from aftercare.audit import service as audit
from aftercare.errors import ValidationFailed
from aftercare.graduates.models import Graduate, silence_start
from aftercare.graduates.service import lock_graduate
from aftercare.plans.reads import current_plan_body
from aftercare.program.service import current_rules
from aftercare.scheduling.localtime import local_today, zone
from aftercare.scheduling.service import replan_graduate


def local_day(graduate: Graduate, now: datetime) -> date:
    return local_today(now, zone(graduate.timezone))


async def discharge(session: AsyncSession, graduate: Graduate, *, now: datetime) -> list[uuid.UUID]:
    """Discharge the locked ``graduate`` (no change if they already are); the ids of the alerts it
    resolved. ``discharge_date`` becomes the day it happened if it was unset or still ahead."""
    if graduate.status == "discharged":
        return []
    today = local_day(graduate, now)
    graduate.status = "discharged"
    if graduate.discharge_date is None or graduate.discharge_date > today:
        graduate.discharge_date = today
    graduate.updated_at = now
    await session.flush()
    resolved = await resolve_on_discharge(session, graduate.id, now=now)
    # Discharged: the re-plan deletes every schedule row of the graduate.
    await replan_graduate(session, graduate.id, plan=None, nudge_after_minutes=0, now=now)
    # The caseload columns the alert service just rewrote (its statement bypasses this object).
    await session.refresh(graduate, ["risk_level", "open_alerts"])
    return resolved


def discharge_due(discharge_date: date | None, *, closed_day: date) -> bool:
    """Whether closing ``closed_day`` starts the discharge date (or passes it: after a sweeper
    outage the day closes catch up one by one)."""
    return discharge_date is not None and discharge_date <= closed_day + timedelta(days=1)


async def discharge_if_due(
    session: AsyncSession, *, graduate_id: uuid.UUID, closed_day: date, now: datetime
) -> bool:
    """The sweep closed ``closed_day``: if that starts the graduate's discharge date, discharge them
    now, if they are still active (whoever runs this second finds them discharged). Whether it did."""
    graduate = await lock_graduate(session, graduate_id)
    if graduate.status != "active" or not discharge_due(graduate.discharge_date, closed_day=closed_day):
        return False
    await discharge(session, graduate, now=now)
    await audit.record(
        session, actor=None, action="update", resource="graduate", graduate_id=graduate_id, now=now
    )
    return True


async def readmit(
    session: AsyncSession, graduate: Graduate, *, discharge_date_given: bool, now: datetime
) -> None:
    """Re-admit the locked, discharged ``graduate`` today: active again, the silence rule counting
    from today, prompts and reminders planned again. A discharge date that has come is cleared, since
    it would discharge them again at once; one sent with the re-admission must lie ahead (422)."""
    today = local_day(graduate, now)
    if graduate.discharge_date is not None and graduate.discharge_date <= today:
        if discharge_date_given:
            raise ValidationFailed.one(
                "discharge_date", f"must be after today ({today.isoformat()}) to re-admit the graduate"
            )
        graduate.discharge_date = None
    graduate.status = "active"
    graduate.admitted_on = today
    graduate.silent_since = silence_start(graduate.last_checkin_date, today)
    graduate.updated_at = now
    await session.flush()
    await replan_graduate(
        session,
        graduate.id,
        plan=await current_plan_body(session, graduate.id),
        nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
        now=now,
    )
