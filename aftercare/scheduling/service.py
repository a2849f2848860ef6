"""Keeping each graduate's schedule rows in step with their profile and plan, and reading them back.

A row always names the next occurrence of its stream that has not been handled yet: everything the
stream planned before it was sent, skipped or cancelled. That invariant is what lets a re-plan after
a time-zone, check-in-time, quiet-hours or plan change pass the already-handled days to the planner
(``handled_keys``), so a travelling graduate is never prompted twice for one local day.

All writes run inside the caller's transaction: a profile or plan change and its re-plan commit
together, and a check-in and the cancellation of that day's prompt and nudge commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.base import table_of
from aftercare.db.types import uuid7
from aftercare.errors import FieldError, NotFound, ValidationFailed
from aftercare.graduates.models import Graduate
from aftercare.graduates.zones import zone_history
from aftercare.i18n import _, locale_of
from aftercare.plans.reads import current_plan_body
from aftercare.plans.schemas import PlanBody
from aftercare.program.service import current_rules
from aftercare.push.models import Notification
from aftercare.scheduling import schemas
from aftercare.scheduling.localtime import day_bounds, utc_offset_text, zone
from aftercare.scheduling.models import Schedule
from aftercare.scheduling.planner import (
    NUDGE_STREAM,
    PROMPT_STREAM,
    GraduateSchedule,
    Occurrence,
    QuietHours,
    ScheduledItem,
    items_from_plan,
    next_occurrence,
    plan_occurrences,
    reminder_streams,
    window_closes,
)

DAY_CLOSE_STREAM = "day_close"
DAILY_STREAMS = (PROMPT_STREAM, NUDGE_STREAM)
_EPSILON = timedelta(microseconds=1)
# A zone change moves the graduate's "today" by at most one day, so the handled prompt days that can
# come back into view after one are the few just before the row's day.
_HANDLED_DAYS_BACK = 3
DEFAULT_REMINDER_RANGE = timedelta(days=7)
MAX_REMINDER_RANGE = timedelta(days=35)
REMINDER_KINDS = (
    "checkin_prompt",
    "checkin_nudge",
    "therapy_reminder",
    "support_group_reminder",
    "medication_reminder",
)


class ScheduleFields(Protocol):
    """What the planner needs of a graduate: a ``Graduate`` or a Core row of the same columns."""

    @property
    def timezone(self) -> str: ...
    @property
    def checkin_time(self) -> str: ...
    @property
    def quiet_start(self) -> str | None: ...
    @property
    def quiet_end(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def locale(self) -> str: ...


SCHEDULE_COLUMNS = (
    Graduate.id,
    Graduate.user_id,
    Graduate.timezone,
    Graduate.checkin_time,
    Graduate.quiet_start,
    Graduate.quiet_end,
    Graduate.status,
    Graduate.locale,
    Graduate.last_checkin_date,
)


def schedule_of(graduate: ScheduleFields, *, nudge_after_minutes: int) -> GraduateSchedule:
    quiet = (
        QuietHours(start=time.fromisoformat(graduate.quiet_start), end=time.fromisoformat(graduate.quiet_end))
        if graduate.quiet_start is not None and graduate.quiet_end is not None
        else None
    )
    return GraduateSchedule(
        timezone=graduate.timezone,
        checkin_time=time.fromisoformat(graduate.checkin_time),
        quiet_hours=quiet,
        nudge_after_minutes=nudge_after_minutes,
        status="discharged" if graduate.status == "discharged" else "active",
        locale=locale_of(graduate.locale),
    )


def checked_in(last_checkin_date: date | None) -> frozenset[date]:
    """The days whose prompt and nudge are void. Only the latest check-in day matters: earlier days
    are closed, and no check-in exists for a day that has not begun."""
    return frozenset() if last_checkin_date is None else frozenset({last_checkin_date})


def next_live(
    schedule: GraduateSchedule,
    items: Iterable[ScheduledItem],
    stream: str,
    *,
    after: datetime,
    now: datetime,
    checked_in_dates: frozenset[date] = frozenset(),
    handled_keys: frozenset[str] = frozenset(),
) -> Occurrence | None:
    """The stream's next occurrence planned after ``after`` that is still worth sending at ``now``: a
    sweeper that was down for a day goes on with today, not with yesterday's prompts."""
    items = tuple(items)
    found = next_occurrence(
        schedule, items, stream, after=after, checked_in_dates=checked_in_dates, handled_keys=handled_keys
    )
    while found is not None and found.deadline <= now:
        found = next_occurrence(
            schedule,
            items,
            stream,
            after=found.planned_at,
            checked_in_dates=checked_in_dates,
            handled_keys=handled_keys,
        )
    return found


def occurrence_values(occurrence: Occurrence) -> dict[str, Any]:
    """A schedule row's columns for ``occurrence``."""
    return {
        "kind": occurrence.kind,
        "next_due_at": occurrence.due_at,
        "planned_at": occurrence.planned_at,
        "occurrence_key": occurrence.key,
        "local_date": occurrence.local_date,
        "title": occurrence.title,
        "item_id": occurrence.item_id,
        "event_at": occurrence.event_at,
        "deadline": occurrence.deadline,
        "status": occurrence.status,
    }


def day_close_values(day: date, closes_at: datetime) -> dict[str, Any]:
    return {
        "kind": DAY_CLOSE_STREAM,
        "next_due_at": closes_at,
        "planned_at": closes_at,
        "occurrence_key": f"{DAY_CLOSE_STREAM}:{day.isoformat()}",
        "local_date": day,
        "title": "",
        "item_id": None,
        "event_at": None,
        "deadline": closes_at,
        "status": "planned",
    }


def next_day_close(
    schedule: GraduateSchedule, *, after: datetime, unclosed: date | None
) -> dict[str, Any] | None:
    """Values of the next day-close row: the day holding ``after``, or ``unclosed`` (a row's own day)
    when given. A day is never skipped nor closed twice, whatever zone the graduate moves to: its close
    is only recomputed in the new zone (and is due at once if that instant has passed)."""
    closes = window_closes(schedule, after)
    if closes is None:
        return None
    if unclosed is None:
        return day_close_values(*closes)
    return day_close_values(unclosed, day_bounds(unclosed, zone(schedule.timezone))[1])


def _handled_days(stream: str, row_day: date) -> frozenset[str]:
    return frozenset(
        f"{stream}:{(row_day - timedelta(days=back)).isoformat()}"
        for back in range(1, _HANDLED_DAYS_BACK + 1)
    )


def _replanned(
    schedule: GraduateSchedule,
    items: tuple[ScheduledItem, ...],
    stream: str,
    row: Schedule | None,
    *,
    now: datetime,
    checked_in_dates: frozenset[date],
) -> dict[str, Any] | None:
    """The row ``stream`` should hold after a change, given the row it holds now (None: a new stream)."""
    if stream == DAY_CLOSE_STREAM:
        return next_day_close(schedule, after=now, unclosed=row.local_date if row else None)
    if row is None:
        found = next_live(
            schedule, items, stream, after=now - _EPSILON, now=now, checked_in_dates=checked_in_dates
        )
    elif stream in DAILY_STREAMS:
        # The row's own day is not handled yet: search from its start, so moving the check-in time
        # earlier than now still prompts today (at once) rather than skipping to tomorrow.
        day_start = day_bounds(row.local_date, zone(schedule.timezone))[0]
        found = next_live(
            schedule,
            items,
            stream,
            after=min(now, day_start) - _EPSILON,
            now=now,
            checked_in_dates=checked_in_dates,
            handled_keys=_handled_days(stream, row.local_date),
        )
    else:
        found = next_live(
            schedule,
            items,
            stream,
            after=min(now, row.planned_at) - _EPSILON,
            now=now,
            checked_in_dates=checked_in_dates,
        )
    return None if found is None else occurrence_values(found)


async def replan_graduate(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    *,
    plan: PlanBody | None,
    nudge_after_minutes: int,
    now: datetime,
) -> None:
    """Bring the graduate's schedule rows in step with their profile and ``plan`` (their current
    one, which the caller holds: a plan write passes the body it just wrote), inside the caller's
    transaction: new streams inserted, gone ones deleted, changed ones updated. A discharged
    graduate keeps no rows: no prompt, reminder or silence check runs for them."""
    # Locked so a sweeper advancing one of these rows right now is waited for, not overwritten with
    # a plan computed from the row as it was before that send (PostgreSQL; SQLite's lock is global).
    rows = {
        row.stream: row
        for row in (
            await session.scalars(
                select(Schedule).where(Schedule.graduate_id == graduate_id).with_for_update()
            )
        ).all()
    }
    graduate = await session.get(Graduate, graduate_id)
    if graduate is None or graduate.status == "discharged":
        await session.execute(delete(Schedule).where(Schedule.graduate_id == graduate_id))
        return
    schedule = schedule_of(graduate, nudge_after_minutes=nudge_after_minutes)
    items = items_from_plan(plan) if plan is not None else ()
    done = checked_in(graduate.last_checkin_date)
    streams = {PROMPT_STREAM, NUDGE_STREAM, DAY_CLOSE_STREAM, *reminder_streams(items)}
    gone = [row.id for stream, row in rows.items() if stream not in streams]
    for stream in sorted(streams):
        row = rows.get(stream)
        values = _replanned(schedule, items, stream, row, now=now, checked_in_dates=done)
        if values is None:
            if row is not None:
                gone.append(row.id)
        elif row is None:
            await session.execute(
                insert(Schedule).values(
                    id=uuid7(), graduate_id=graduate_id, stream=stream, updated_at=now, **values
                )
            )
        elif any(getattr(row, name) != value for name, value in values.items()):
            await session.execute(
                update(Schedule).where(Schedule.id == row.id).values(updated_at=now, **values)
            )
    if gone:
        await session.execute(delete(Schedule).where(Schedule.id.in_(gone)))


class CheckedInGraduate(ScheduleFields, Protocol):
    """The graduate as a check-in locked it: the planner's fields and the latest check-in day before it."""

    @property
    def last_checkin_date(self) -> date | None: ...


@dataclass(frozen=True)
class CheckedInDays:
    """Check-ins just stored for one graduate: their local days, and the graduate as locked."""

    graduate_id: uuid.UUID
    days: frozenset[date]
    graduate: CheckedInGraduate


_schedules = table_of(Schedule)
# Built once: these run for every batch of check-ins, and building a statement costs more than
# running it. Locked in a fixed order, so two transactions never wait for each other in a cycle.
_daily_rows_of = (
    select(
        _schedules.c.id,
        _schedules.c.graduate_id,
        _schedules.c.stream,
        _schedules.c.planned_at,
        _schedules.c.local_date,
    )
    .where(
        _schedules.c.graduate_id.in_(bindparam("graduate_ids", expanding=True)),
        # Two equalities, not IN: the graduates' list is the only one re-rendered per execution.
        or_(*(_schedules.c.stream == stream for stream in DAILY_STREAMS)),
    )
    .order_by(_schedules.c.graduate_id, _schedules.c.stream)
    .with_for_update()
)
_delete_row = delete(_schedules).where(_schedules.c.id == bindparam("row_id"))
_advance_row = update(_schedules).where(
    _schedules.c.id == bindparam("row_id"), _schedules.c.planned_at == bindparam("was_planned_at")
)


async def cancel_prompts_for_days(
    session: AsyncSession, arrivals: list[CheckedInDays], *, nudge_after_minutes: int, now: datetime
) -> None:
    """Check-ins arrived for these days: each day's prompt and nudge, if not sent yet, give way to
    the next day's. Inside the check-ins' transaction, which has locked and read the graduates and
    the program rules already; one read and at most two writes, however many check-ins."""
    by_graduate = {item.graduate_id: item for item in arrivals}
    if not by_graduate:
        return
    connection = await session.connection()
    rows = (await connection.execute(_daily_rows_of, {"graduate_ids": list(by_graduate)})).all()
    advanced, ended = [], []
    for row in rows:
        item = by_graduate[row.graduate_id]
        if row.local_date not in item.days:
            continue
        schedule = schedule_of(item.graduate, nudge_after_minutes=nudge_after_minutes)
        done = checked_in(item.graduate.last_checkin_date) | item.days
        found = next_live(schedule, (), row.stream, after=row.planned_at, now=now, checked_in_dates=done)
        if found is None:
            ended.append({"row_id": row.id})
        else:
            advanced.append(
                {
                    "row_id": row.id,
                    "was_planned_at": row.planned_at,
                    "updated_at": now,
                    **occurrence_values(found),
                }
            )
    if advanced:
        await connection.execute(_advance_row, advanced)
    if ended:
        await connection.execute(_delete_row, ended)


async def list_reminders(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    actor: Principal,
) -> list[schemas.Reminder]:
    """Prompts and reminders in ``[start, end)`` (default: the next 7 days, at most 35): the past as
    the inbox recorded it, the future as the same planner the sweeper uses will send it."""
    start, end = _reminder_range(start, end, now=now)
    async with session.begin():
        graduate = (
            await session.execute(select(*SCHEDULE_COLUMNS).where(Graduate.id == graduate_id))
        ).one_or_none()
        if graduate is None:
            raise NotFound(_("graduate not found"))
        past: list[schemas.Reminder] = []
        if start < now and graduate.user_id is not None:
            recorded = await session.execute(
                select(Notification.kind, Notification.created_at, Notification.title, Notification.status)
                .where(
                    Notification.user_id == graduate.user_id,
                    Notification.kind.in_(REMINDER_KINDS),
                    Notification.created_at >= start,
                    Notification.created_at < min(end, now),
                )
                .order_by(Notification.created_at, Notification.id)
            )
            # Each in the zone in force when it was sent: a day before a move keeps its own times.
            zones = await zone_history(session, graduate_id, current=graduate.timezone)
            past = [
                _reminder(row.kind, row.created_at, row.title, row.status, zones.at(row.created_at))
                for row in recorded
            ]
        future = await _planned(session, graduate, start=max(start, now), end=end) if end > now else []
        await audit.record_staff_read(
            session, actor=actor, resource="reminders", graduate_id=graduate_id, now=now
        )
    return past + future


async def next_reminders(
    session: AsyncSession, graduate_id: uuid.UUID, *, now: datetime, count: int
) -> list[schemas.Reminder]:
    """The graduate's next ``count`` prompts and reminders (within ``MAX_REMINDER_RANGE``), as the
    reminders list shows them; in the caller's transaction, unaudited (the caller audits its read)."""
    graduate = (
        await session.execute(select(*SCHEDULE_COLUMNS).where(Graduate.id == graduate_id))
    ).one_or_none()
    if graduate is None:
        raise NotFound(_("graduate not found"))
    found: list[schemas.Reminder] = []
    # Two days hold at least a prompt and a nudge or two, so the short span mostly suffices and the
    # planner expands two days, not thirty-five.
    for span in (timedelta(days=2), MAX_REMINDER_RANGE):
        found = await _planned(session, graduate, start=now, end=now + span)
        if len(found) >= count:
            break
    return found[:count]


class _PlannedGraduate(CheckedInGraduate, Protocol):
    @property
    def id(self) -> uuid.UUID: ...


async def _planned(
    session: AsyncSession, graduate: _PlannedGraduate, *, start: datetime, end: datetime
) -> list[schemas.Reminder]:
    """The future in ``[start, end)``, from the planner the sweeper uses, in the graduate's zone now
    (a change is never dated ahead: the zone of today is the zone of every day to come)."""
    schedule = schedule_of(graduate, nudge_after_minutes=(await current_rules(session)).nudge_after_minutes)
    plan = await current_plan_body(session, graduate.id)
    # The days whose prompt or nudge the sweeper has handled already: those before its row's day
    # (a row names its stream's next unhandled occurrence). After a move west, today may come round
    # again in the new zone; it is not prompted twice, so it is not listed either.
    rows = await session.execute(
        select(Schedule.stream, Schedule.local_date).where(
            Schedule.graduate_id == graduate.id, Schedule.stream.in_(DAILY_STREAMS)
        )
    )
    handled = frozenset(key for row in rows for key in _handled_days(row.stream, row.local_date))
    occurrences = plan_occurrences(
        schedule,
        items_from_plan(plan) if plan is not None else (),
        start=start,
        end=end,
        checked_in_dates=checked_in(graduate.last_checkin_date),
        handled_keys=handled,
    )
    tz = zone(graduate.timezone)
    return [_reminder(o.kind, o.due_at, o.title, o.status, tz) for o in occurrences]


def _reminder_range(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    errors = [
        FieldError(name, _("must be an RFC 3339 instant with an offset, e.g. 2026-11-24T18:00:00Z"))
        for name, value in (("from", start), ("to", end))
        if value is not None and value.tzinfo is None
    ]
    if errors:
        raise ValidationFailed(errors)
    start = now if start is None else start
    end = start + DEFAULT_REMINDER_RANGE if end is None else end
    if end <= start:
        raise ValidationFailed.one("to", _("must be after from"))
    if end - start > MAX_REMINDER_RANGE:
        raise ValidationFailed.one("to", _("at most %(days)d days after from", days=MAX_REMINDER_RANGE.days))
    return start, end


def _reminder(kind: str, due_at: datetime, title: str, status: str, tz: ZoneInfo) -> schemas.Reminder:
    local = due_at.astimezone(tz)
    return schemas.Reminder(
        kind=kind,  # type: ignore[arg-type]  # filtered to REMINDER_KINDS or from the planner
        due_at=due_at,
        local_time=local.strftime("%Y-%m-%dT%H:%M"),
        utc_offset=utc_offset_text(due_at, tz),
        title=title,
        status=status,
    )
