"""What should be pushed to a graduate, and when: pure, so DST, travel and quiet hours are table-tested.

The sweeper keeps one row per stream (the daily prompt, the daily nudge, each reminder offset of each
plan item) holding only its next due time (DESIGN, "Scheduling keeps the next occurrence"); this module
computes that time (``next_occurrence``), the occurrences of a window for ``GET .../reminders``
(``plan_occurrences``) and when a local day's check-in window closes (``window_closes``).

Rules (CONTRACT, "Scheduling semantics"):

=====================  =============================  ==========================================
kind                   planned at                     deadline (quiet hours defer only before it)
=====================  =============================  ==========================================
checkin_prompt         ``checkin_time`` local         end of that local day
checkin_nudge          prompt + nudge_after_minutes   end of that local day
therapy / support      event - each reminder offset   the event's start
medication_reminder    the dose time, never deferred  end of the dose's local day
=====================  =============================  ==========================================

A day with a check-in gets neither prompt nor nudge. A push whose quiet period ends at or after its
deadline keeps its planned time with status ``skipped_quiet_hours`` (recorded in the inbox, not sent).
Wall-clock times follow ``localtime.resolve_local``: forward across a gap, first instant in an overlap.

Keys are stable across re-planning: a prompt's key names its local date, a reminder's its item, event
instant and offset. A caller that passes the keys it has already handled therefore never prompts a
travelling graduate twice for one local day, whatever zone the re-plan runs in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from aftercare.i18n import DEFAULT_LOCALE, Locale, Text, _, plural, translate
from aftercare.plans.schemas import PlanBody, Schedule
from aftercare.scheduling.localtime import at_local_time, day_bounds, local_today, zone
from aftercare.scheduling.recurrence import occurrences

ItemKind = Literal["therapy", "support_group", "medication"]
OccurrenceKind = Literal[
    "checkin_prompt", "checkin_nudge", "therapy_reminder", "support_group_reminder", "medication_reminder"
]
OccurrenceStatus = Literal["planned", "skipped_quiet_hours"]

PROMPT_STREAM = "checkin_prompt"
NUDGE_STREAM = "checkin_nudge"
# Rendered in the graduate's language for each occurrence (``GraduateSchedule.locale``).
_PROMPT_TITLE = _("Time for your daily check-in")
_NUDGE_TITLE = _("Your check-in for today is still open")

_REMINDER_KIND: dict[ItemKind, OccurrenceKind] = {
    "therapy": "therapy_reminder",
    "support_group": "support_group_reminder",
    "medication": "medication_reminder",
}

# Searched one after another by ``next_occurrence``: the daily streams are found in the first, and the
# three together cover more than the year in which every accepted RRULE must occur at least once.
_SEARCH_SPANS = (timedelta(days=2), timedelta(days=30), timedelta(days=370))


class QuietHours(msgspec.Struct, frozen=True, kw_only=True):
    """Local wall-clock times; ``start > end`` spans midnight (22:00-08:00), ``start == end`` is none."""

    start: time
    end: time


class GraduateSchedule(msgspec.Struct, frozen=True, kw_only=True):
    timezone: str
    checkin_time: time
    quiet_hours: QuietHours | None
    nudge_after_minutes: int
    status: Literal["active", "discharged"] = "active"
    locale: Locale = DEFAULT_LOCALE
    """The language of the titles (``Occurrence.title``)."""


class ScheduledItem(msgspec.Struct, frozen=True, kw_only=True):
    """One plan entry with a schedule. Carries no name: nothing here can leak onto a lock screen."""

    item_id: str
    kind: ItemKind
    rrule: str
    start_local: str
    reminder_minutes_before: tuple[int, ...]


class Occurrence(msgspec.Struct, frozen=True, kw_only=True):
    kind: OccurrenceKind
    key: str
    """Stable dedup key (the push's ``tag``/``id``): same occurrence, same key, in every re-plan."""
    stream: str
    """The sweeper row this occurrence belongs to, for ``next_occurrence``."""
    due_at: datetime
    """When to push: ``planned_at`` moved to the end of quiet hours, or ``planned_at`` if skipped."""
    planned_at: datetime
    deadline: datetime
    """After this instant the push is worthless (its TTL runs out here)."""
    local_date: date
    """The check-in day of a prompt or nudge; the local day of a reminder's event."""
    title: str
    """In the graduate's language: the push's title, and the reminders list's."""
    status: OccurrenceStatus
    item_id: str | None = None
    event_at: datetime | None = None


def checkin_time_conflicts(checkin_time: time, quiet_hours: QuietHours | None) -> bool:
    """True if a daily prompt at ``checkin_time`` would fall in quiet hours (the API answers 422)."""
    return quiet_hours is not None and _is_quiet(checkin_time, quiet_hours)


def items_from_plan(plan: PlanBody) -> tuple[ScheduledItem, ...]:
    """The plan's schedulable entries; medications only where the graduate asked to be reminded."""
    return (
        *(
            _scheduled(entry.id, "therapy", entry.schedule, entry.reminder_minutes_before)
            for entry in plan.therapy
        ),
        *(
            _scheduled(entry.id, "support_group", entry.schedule, entry.reminder_minutes_before)
            for entry in plan.support_groups
        ),
        # A dose is reminded at its own time, so its one offset is zero.
        *(
            _scheduled(entry.id, "medication", entry.schedule, (0,))
            for entry in plan.medications
            if entry.remind
        ),
    )


def plan_occurrences(
    schedule: GraduateSchedule,
    items: Iterable[ScheduledItem],
    *,
    start: datetime,
    end: datetime,
    checked_in_dates: frozenset[date] = frozenset(),
    handled_keys: frozenset[str] = frozenset(),
) -> list[Occurrence]:
    """Occurrences planned in ``[start, end)`` (by ``planned_at``, so a window's answer does not depend
    on quiet hours), minus ``handled_keys``, sorted by ``due_at``."""
    start, end = _utc(start), _utc(end)
    if schedule.status == "discharged" or end <= start:
        return []
    found = _collect(
        schedule,
        zone(schedule.timezone),
        tuple(items),
        daily=True,
        start=start,
        end=end,
        checked_in_dates=checked_in_dates,
        handled_keys=handled_keys,
    )
    return sorted(found, key=lambda occurrence: (occurrence.due_at, occurrence.key))


def next_occurrence(
    schedule: GraduateSchedule,
    items: Iterable[ScheduledItem],
    stream: str,
    *,
    after: datetime,
    checked_in_dates: frozenset[date] = frozenset(),
    handled_keys: frozenset[str] = frozenset(),
) -> Occurrence | None:
    """The first occurrence of ``stream`` planned strictly after ``after``, or None (discharged, the
    item is gone, or its rule has ended).

    Advancing a row passes the ``planned_at`` it just handled: planned instants are distinct within a
    stream, while two deferred reminders can share a ``due_at``. Re-planning after a zone or plan change
    passes the row's last handled key in ``handled_keys``.
    """
    after = _utc(after)
    if schedule.status == "discharged":
        return None
    tz = zone(schedule.timezone)
    daily = stream in (PROMPT_STREAM, NUDGE_STREAM)
    relevant = tuple(item for item in items if stream in _item_streams(item))
    if not daily and not relevant:
        return None
    window_start = after
    for span in _SEARCH_SPANS:
        window_end = window_start + span
        found = [
            occurrence
            for occurrence in _collect(
                schedule,
                tz,
                relevant,
                daily=daily,
                start=window_start,
                end=window_end,
                checked_in_dates=checked_in_dates,
                handled_keys=handled_keys,
            )
            if occurrence.stream == stream and occurrence.planned_at > after
        ]
        if found:
            return min(found, key=lambda occurrence: occurrence.planned_at)
        window_start = window_end
    return None


def next_prompt_after(
    schedule: GraduateSchedule,
    after: datetime,
    *,
    checked_in_dates: frozenset[date] = frozenset(),
    handled_keys: frozenset[str] = frozenset(),
) -> Occurrence | None:
    """The next daily prompt planned strictly after ``after``; None once discharged."""
    return next_occurrence(
        schedule,
        (),
        PROMPT_STREAM,
        after=after,
        checked_in_dates=checked_in_dates,
        handled_keys=handled_keys,
    )


def window_closes(schedule: GraduateSchedule, after: datetime) -> tuple[date, datetime] | None:
    """The local day whose check-in window is the next to close strictly after ``after``, and the UTC
    instant it closes (when the silence rule runs). None once discharged: silence is not a warning sign
    for someone who has left aftercare."""
    if schedule.status == "discharged":
        return None
    tz = zone(schedule.timezone)
    day = local_today(_utc(after), tz)
    return day, day_bounds(day, tz)[1]


def reminder_streams(items: Iterable[ScheduledItem]) -> frozenset[str]:
    """Every reminder stream of ``items`` (one per item and offset): the sweeper keeps a row for each."""
    return frozenset(stream for item in items for stream in _item_streams(item))


def ttl_seconds(occurrence: Occurrence, now: datetime) -> int:
    """Web Push ``TTL``: whole seconds until the occurrence is worthless, never negative."""
    return max(0, int((occurrence.deadline - _utc(now)).total_seconds()))


def _scheduled(item_id: str, kind: ItemKind, schedule: Schedule, offsets: Iterable[int]) -> ScheduledItem:
    return ScheduledItem(
        item_id=item_id,
        kind=kind,
        rrule=schedule.rrule,
        start_local=schedule.start_local,
        reminder_minutes_before=tuple(offsets),
    )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()} where an instant is needed")
    return at.astimezone(UTC)


def _collect(
    schedule: GraduateSchedule,
    tz: ZoneInfo,
    items: tuple[ScheduledItem, ...],
    *,
    daily: bool,
    start: datetime,
    end: datetime,
    checked_in_dates: frozenset[date],
    handled_keys: frozenset[str],
) -> list[Occurrence]:
    candidates: list[Occurrence] = []
    if daily:
        candidates.extend(_daily(schedule, tz, start, end, checked_in_dates))
    for item in items:
        candidates.extend(_reminders(item, schedule.quiet_hours, tz, start, end, schedule.locale))
    return [
        occurrence
        for occurrence in candidates
        if start <= occurrence.planned_at < end and occurrence.key not in handled_keys
    ]


def _daily(
    schedule: GraduateSchedule,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    checked_in_dates: frozenset[date],
) -> Iterator[Occurrence]:
    # Prompt and nudge both fall inside their own local day, so only the window's local days count.
    day = local_today(start, tz)
    last = local_today(end, tz)
    nudge_delay = timedelta(minutes=schedule.nudge_after_minutes)
    while day <= last:
        if day not in checked_in_dates:
            prompt_at = at_local_time(day, schedule.checkin_time, tz)
            closes_at = day_bounds(day, tz)[1]
            yield _settled(
                kind="checkin_prompt",
                key=f"{PROMPT_STREAM}:{day.isoformat()}",
                stream=PROMPT_STREAM,
                planned_at=prompt_at,
                deadline=closes_at,
                local_date=day,
                title=translate(_PROMPT_TITLE, schedule.locale),
                quiet_hours=schedule.quiet_hours,
                tz=tz,
            )
            nudge_at = prompt_at + nudge_delay
            # A nudge after its day has closed would ask for a check-in that can no longer count as
            # on time; the silence rule takes over from there.
            if nudge_at < closes_at:
                yield _settled(
                    kind="checkin_nudge",
                    key=f"{NUDGE_STREAM}:{day.isoformat()}",
                    stream=NUDGE_STREAM,
                    planned_at=nudge_at,
                    deadline=closes_at,
                    local_date=day,
                    title=translate(_NUDGE_TITLE, schedule.locale),
                    quiet_hours=schedule.quiet_hours,
                    tz=tz,
                )
        day += timedelta(days=1)


def _reminders(
    item: ScheduledItem,
    quiet_hours: QuietHours | None,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    locale: Locale,
) -> Iterator[Occurrence]:
    # Repeated offsets would yield two pushes with one key.
    offsets = sorted(set(item.reminder_minutes_before))
    if not offsets:
        return
    kind = _REMINDER_KIND[item.kind]
    events = occurrences(
        item.rrule,
        item.start_local,
        tz,
        start + timedelta(minutes=offsets[0]),
        end + timedelta(minutes=offsets[-1]),
    )
    for event_at in events:
        local_date = local_today(event_at, tz)
        # Accepted rules have no BYHOUR, so a dose recurs at most daily: its day's end always comes
        # no later than the next dose.
        deadline = day_bounds(local_date, tz)[1] if item.kind == "medication" else event_at
        for minutes in offsets:
            yield _settled(
                kind=kind,
                key=f"{kind}:{item.item_id}:{_instant_text(event_at)}:{minutes}",
                stream=_stream(item, minutes),
                planned_at=event_at - timedelta(minutes=minutes),
                deadline=deadline,
                local_date=local_date,
                title=translate(_reminder_title(item.kind, minutes), locale),
                # The graduate chose the dose time, quiet hours or not.
                quiet_hours=None if item.kind == "medication" else quiet_hours,
                tz=tz,
                item_id=item.item_id,
                event_at=event_at,
            )


def _settled(
    *,
    kind: OccurrenceKind,
    key: str,
    stream: str,
    planned_at: datetime,
    deadline: datetime,
    local_date: date,
    title: str,
    quiet_hours: QuietHours | None,
    tz: ZoneInfo,
    item_id: str | None = None,
    event_at: datetime | None = None,
) -> Occurrence:
    """The occurrence with quiet hours applied: deferred to their end if that is before the deadline,
    else skipped at its planned time."""
    due_at = planned_at
    status: OccurrenceStatus = "planned"
    quiet_end = _quiet_end(planned_at, quiet_hours, tz) if quiet_hours is not None else None
    if quiet_end is not None:
        if quiet_end < deadline:
            due_at = quiet_end
        else:
            status = "skipped_quiet_hours"
    return Occurrence(
        kind=kind,
        key=key,
        stream=stream,
        due_at=due_at,
        planned_at=planned_at,
        deadline=deadline,
        local_date=local_date,
        title=title,
        status=status,
        item_id=item_id,
        event_at=event_at,
    )


def _is_quiet(wall: time, quiet_hours: QuietHours) -> bool:
    start, end = quiet_hours.start, quiet_hours.end
    if start <= end:
        return start <= wall < end
    return wall >= start or wall < end


def _quiet_end(at: datetime, quiet_hours: QuietHours, tz: ZoneInfo) -> datetime | None:
    """The UTC instant the quiet period holding ``at`` ends, or None if ``at`` is not in one. Judged in
    local wall time on the local day of ``at``, so 08:00 stays 08:00 across a DST night."""
    local = at.astimezone(tz)
    wall = local.time()
    if not _is_quiet(wall, quiet_hours):
        return None
    spans_midnight = quiet_hours.start > quiet_hours.end
    end_day = (
        local.date() + timedelta(days=1) if spans_midnight and wall >= quiet_hours.start else local.date()
    )
    quiet_end = at_local_time(end_day, quiet_hours.end, tz)
    if quiet_end <= at:
        # ``at`` lies in the repeated hour of a fall-back night and the end's wall time is in that hour
        # too: the period ends at the second pass of the end time, not at the first, already gone.
        quiet_end = datetime.combine(end_day, quiet_hours.end, tzinfo=tz).replace(fold=1).astimezone(UTC)
    return quiet_end


def _item_streams(item: ScheduledItem) -> set[str]:
    return {_stream(item, minutes) for minutes in item.reminder_minutes_before}


def _stream(item: ScheduledItem, minutes: int) -> str:
    return f"{_REMINDER_KIND[item.kind]}:{item.item_id}:{minutes}"


def _instant_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reminder_title(kind: ItemKind, minutes: int) -> Text:
    # "Meeting" and "Appointment" only: a fellowship or a psychiatrist on a lock screen discloses.
    if kind == "medication":
        return _("Time for your medication")
    if minutes == 0:
        return _("Appointment starting now") if kind == "therapy" else _("Meeting starting now")
    lead = _lead_text(minutes)
    return (
        _("Appointment in %(lead)s", lead=lead) if kind == "therapy" else _("Meeting in %(lead)s", lead=lead)
    )


def _lead_text(minutes: int) -> Text:
    hours, mins = divmod(minutes, 60)
    counted_hours = plural("%(count)d hour", "%(count)d hours", hours)
    counted_minutes = plural("%(count)d minute", "%(count)d minutes", mins)
    if hours and mins:
        # TRANSLATORS: a time span, e.g. "1 hour 30 minutes"; both parts are already translated.
        return _("%(hours)s %(minutes)s", hours=counted_hours, minutes=counted_minutes)
    return counted_hours if hours else counted_minutes
