"""A graduate's progress (``GET /v1/graduates/{id}/progress``), read across slices in one transaction.

What it reads, cheaply: the graduate's row; one range read of their check-ins' ``local_date``,
``attended_support`` and ``coping_used`` over the last ``WINDOW_DAYS`` local days (the unique
(graduate_id, local_date) index); the current plan; and the planner's next reminders. A staff read is
audited. The figures are computed by the pure functions below:

- *days since discharge*: local days from ``admitted_on`` (enrollment is the day the program
  discharged them to aftercare; a re-admission starts it again) to today;
- *check-in streak*: consecutive local days with a check-in ending today, or yesterday when today
  has none yet (today's window is still open); the *longest* within the window read;
- *support sessions*, per local week (Monday to Sunday), this week and the four before: *planned* are
  the week's days (from ``admitted_on``) on which the current plan's therapy or support-group
  schedules have a session, *attended* those of them whose check-in answered ``attended_support:
  true`` (the check-in asks one yes/no a day, so both count days, not sessions);
- *coping skills used most*: the check-ins in the window naming each, most first (ties by id), the
  top five, with the name the current plan gives it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins.models import Checkin
from aftercare.errors import NotFound
from aftercare.graduates.models import Graduate
from aftercare.i18n import _
from aftercare.plans.reads import current_plan_body
from aftercare.plans.schemas import PlanBody
from aftercare.progress import schemas
from aftercare.scheduling.localtime import local_today, zone
from aftercare.scheduling.recurrence import expand_local, parse_rrule
from aftercare.scheduling.service import next_reminders

WINDOW_DAYS = 120
WEEKS = 5  # this week and the four before
TOP_COPING = 5
NEXT_REMINDERS = 3


class DayAnswers(msgspec.Struct, frozen=True):
    """What progress reads of one check-in."""

    local_date: date
    attended_support: bool | None
    coping_used: tuple[str, ...]


async def graduate_progress(
    session: AsyncSession, graduate_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.Progress:
    async with session.begin():
        graduate = await session.get(Graduate, graduate_id)
        if graduate is None:
            raise NotFound(_("graduate not found"))
        today = local_today(now, zone(graduate.timezone))
        rows = await session.execute(
            select(Checkin.local_date, Checkin.attended_support, Checkin.coping_used).where(
                Checkin.graduate_id == graduate_id,
                Checkin.local_date > today - timedelta(days=WINDOW_DAYS),
                Checkin.local_date <= today,
            )
        )
        days = [DayAnswers(row.local_date, row.attended_support, tuple(row.coping_used)) for row in rows]
        plan = await current_plan_body(session, graduate_id)
        upcoming = await next_reminders(session, graduate_id, now=now, count=NEXT_REMINDERS)
        await audit.record_staff_read(
            session, actor=actor, resource="progress", graduate_id=graduate_id, now=now
        )
    checked = {day.local_date for day in days}
    return schemas.Progress(
        graduate_id=graduate_id,
        today=today,
        aftercare_since=graduate.admitted_on,
        days_since_discharge=max(0, (today - graduate.admitted_on).days),
        checkin_streak_days=current_streak(checked, today),
        longest_streak_days=longest_streak(checked),
        support_weeks=support_weeks(plan, days, today=today, since=graduate.admitted_on),
        coping_most_used=coping_most_used(plan, days),
        next_reminders=upcoming,
        window_days=WINDOW_DAYS,
    )


def current_streak(checked: set[date], today: date) -> int:
    """Consecutive days of ``checked`` ending today, or yesterday when today has none yet."""
    day = today if today in checked else today - timedelta(days=1)
    streak = 0
    while day in checked:
        streak += 1
        day -= timedelta(days=1)
    return streak


def longest_streak(checked: set[date]) -> int:
    longest = 0
    for day in checked:
        if day - timedelta(days=1) not in checked:  # the start of a run
            run = 1
            while day + timedelta(days=run) in checked:
                run += 1
            longest = max(longest, run)
    return longest


def session_days(plan: PlanBody | None, first: date, last: date) -> set[date]:
    """The local days in ``[first, last]`` with a therapy or support-group session in ``plan``
    (decided on the wall clock, as the planner's rules run: no zone is needed to name the day)."""
    if plan is None or last < first:
        return set()
    schedules = [t.schedule for t in plan.therapy] + [g.schedule for g in plan.support_groups]
    lo, hi = datetime.combine(first, time(0, 0)), datetime.combine(last + timedelta(days=1), time(0, 0))
    return {
        wall.date()
        for schedule in schedules
        for wall in expand_local(parse_rrule(schedule.rrule, schedule.start_local), lo, hi)
    }


def support_weeks(
    plan: PlanBody | None, days: Iterable[DayAnswers], *, today: date, since: date
) -> list[schemas.WeekSupport]:
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=WEEKS - 1)
    planned = session_days(plan, max(first_monday, since), this_monday + timedelta(days=6))
    went = {day.local_date for day in days if day.attended_support}
    weeks = []
    for back in range(WEEKS):
        monday = this_monday - timedelta(weeks=back)
        week = {d for d in planned if monday <= d < monday + timedelta(days=7)}
        weeks.append(schemas.WeekSupport(week_start=monday, planned=len(week), attended=len(week & went)))
    return weeks


def coping_most_used(plan: PlanBody | None, days: Sequence[DayAnswers]) -> list[schemas.CopingUse]:
    counts = Counter(skill for day in days for skill in set(day.coping_used))
    names = {skill.id: skill.name for skill in plan.coping_skills} if plan is not None else {}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_COPING]
    return [schemas.CopingUse(id=skill, name=names.get(skill), days=n) for skill, n in ranked]
