"""Response targets: by when an alert must be acknowledged, and when its escalation's next level is due.

Pure: instants in, instants out, no clock and no I/O. One function, ``respond_by``, serves both
uses, so the alert's ``respond_by`` and its escalation waits come from one source (the program's
``response_targets``):

- an alert opens, or a raise or re-open restarts its clock, at ``start``: ``respond_by(rules,
  severity, start=start)`` is stored as its ``respond_by`` and as its first ``escalate_at`` (level 0
  escalates exactly when the target is missed);
- an escalation to the next level at ``now`` sets the following level's ``escalate_at`` to
  ``respond_by(rules, severity, start=now)``: the same wait again.

A target is either elapsed ``minutes`` (round the clock: 15 minutes at 01:50 on a spring-forward
night is 02:05 by the clock that skipped an hour, i.e. 03:05 local), or ``business_days`` counted by
``add_business_days`` in the program's zone and business hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aftercare.rules.config import WEEKDAYS, BusinessHours, ProgramRules, ResponseTarget
from aftercare.rules.severity import Severity
from aftercare.scheduling.localtime import at_local_time, zone


def respond_by(rules: ProgramRules, severity: Severity, *, start: datetime) -> datetime:
    """When an alert of ``severity`` whose clock started at ``start`` must be acknowledged by."""
    return due_after(rules.response_targets.of(severity), start=start, rules=rules)


def due_after(target: ResponseTarget, *, start: datetime, rules: ProgramRules) -> datetime:
    """``start`` plus ``target``: elapsed minutes, or business days in the program's hours."""
    if target.minutes is not None:
        # In UTC: Python adds to an aware local time on the wall clock, across a DST change too.
        return start.astimezone(UTC) + timedelta(minutes=target.minutes)
    assert target.business_days is not None  # ResponseTarget holds exactly one of the two
    program = rules.program
    return add_business_days(start, target.business_days, program.business_hours, zone(program.timezone))


def add_business_days(start: datetime, days: int, hours: BusinessHours, tz: ZoneInfo) -> datetime:
    """The instant ``days`` business days after ``start``, counted in ``tz``'s local days.

    A business day is a local date whose weekday is in ``hours.days``; its window runs from
    ``hours.start`` to ``hours.end`` local time, each resolved by the contract's DST rule (a time in
    a spring-forward gap moves forward by the gap, one in a fall-back overlap takes the first
    instant). Then:

    - ``start`` strictly inside a window (after its opening, before its closing): as far into the
      window of the ``days``-th business day after that one as ``start`` was into its own, capped at
      that window's closing. With the window clear of the DST change (09:00-17:00 always is) that is
      the same local time: Tuesday 11:00 + 1 -> Wednesday 11:00; Friday 11:00 + 1 -> Monday 11:00.
    - otherwise (before the opening or at it, at or after the closing, or on a day that is not a
      business day): the clock starts at the next opening, and the time is due at the closing of
      the ``days``-th business day counting that one as the first. Tuesday 08:00 + 1 -> Tuesday
      17:00; Friday 19:00, Saturday or Sunday + 1 -> Monday 17:00; Monday 09:00 sharp + 1 ->
      Monday 17:00.

    So a business day's worth of working time always passes, and a later ``start`` is never due
    earlier. Counting local dates and wall-clock windows makes a DST change cost nothing: a warning
    from Friday evening before the spring-forward Sunday is due Monday 17:00 local, one hour earlier
    in UTC than the Monday before. Overnight windows and holidays are not modelled
    (``BusinessHours`` refuses ``end <= start``).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    business = frozenset(WEEKDAYS.index(day) for day in hours.days)
    opens, closes = time.fromisoformat(hours.start), time.fromisoformat(hours.end)

    def is_business(day: date) -> bool:
        return day.weekday() in business

    def next_business(day: date) -> date:
        day += timedelta(days=1)
        while not is_business(day):
            day += timedelta(days=1)
        return day

    def nth_after(day: date, n: int) -> date:
        for _ in range(n):
            day = next_business(day)
        return day

    def window(day: date) -> tuple[datetime, datetime]:
        opening = at_local_time(day, opens, tz)
        # Hours that straddle a spring-forward gap can resolve "backwards" (02:30 -> 03:30 opens
        # after 03:15 closes): that day's window is empty, not inverted.
        return opening, max(opening, at_local_time(day, closes, tz))

    start = start.astimezone(UTC)  # so that every difference and comparison below is in real time
    today = start.astimezone(tz).date()
    if is_business(today):
        opening, closing = window(today)
        if opening < start < closing:
            due_opening, due_closing = window(nth_after(today, days))
            return min(due_opening + (start - opening), due_closing)
        first = today if start <= opening else next_business(today)
    else:
        first = next_business(today)
    return window(nth_after(first, days - 1))[1]
