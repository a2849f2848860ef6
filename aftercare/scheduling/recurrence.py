"""Plan schedules: one RFC 5545 RRULE line, read in the graduate's local wall-clock time.

Why not hand the line to ``dateutil.rrule``: ``rrulestr`` lets ``DTSTART``/``EXDATE`` lines override
``start_local``, and its iterator only checks ``UNTIL`` on a match, so a rule whose filters never (or
rarely) meet, such as ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``, spins through every day to year 9999
and blocks the event loop for seconds. The contract allows a small part of RFC 5545 (``FREQ`` DAILY,
WEEKLY or MONTHLY, no ``BYHOUR``/``BYMINUTE``/``BYSECOND``), and that part is simple enough to expand
here with work proportional to the window asked for: periods are found by arithmetic, never by
walking from ``start_local``. Only ``COUNT`` rules are replayed from the start (the count runs from
there), which is why ``COUNT`` is capped. The tests check the expansion against dateutil.

Every occurrence takes its time of day from ``start_local`` and FREQ is at least DAILY, so a rule has
at most one occurrence a day: the contract's "at most 4 a day" holds by construction.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Literal, cast, get_args
from zoneinfo import ZoneInfo

import msgspec

from aftercare.scheduling.localtime import resolve_local

Freq = Literal["DAILY", "WEEKLY", "MONTHLY"]

MAX_INTERVAL = 1000
MAX_COUNT = 1000
# The contract's "at least one occurrence in the year after start_local"; 366 days covers leap years.
FIRST_YEAR = timedelta(days=366)

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_START_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_INT = re.compile(r"[+-]?\d{1,4}")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6}))?(Z)?")
_ALLOWED_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS"}
)
_REFUSED_PARTS = {
    "BYHOUR": "BYHOUR is not allowed: the time of day comes from start_local",
    "BYMINUTE": "BYMINUTE is not allowed: the time of day comes from start_local",
    "BYSECOND": "BYSECOND is not allowed: the time of day comes from start_local",
    "BYYEARDAY": "BYYEARDAY is only valid with FREQ=YEARLY, which is not allowed",
    "BYWEEKNO": "BYWEEKNO is only valid with FREQ=YEARLY, which is not allowed",
}
_LAST_ORDINAL = date.max.toordinal()
# Keeps every date computed from start_local (weeks before it, the year after it) on the calendar.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000


class RuleError(ValueError):
    """An RRULE or ``start_local`` the contract does not accept; the message is for the client."""


class Recurrence(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed rule with RFC 5545 defaults made explicit; times are naive local wall-clock times."""

    start: datetime
    freq: Freq
    interval: int = 1
    count: int | None = None
    until: datetime | None = None
    wkst: int = 0
    weekdays: frozenset[int] = frozenset()
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()
    monthdays: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    setpos: tuple[int, ...] = ()


def parse_start_local(text: str) -> datetime:
    """The naive wall-clock ``YYYY-MM-DDTHH:MM``; ``RuleError`` unless it is a real date and time."""
    if not _START_LOCAL.fullmatch(text):
        raise RuleError("start_local must be a local date-time YYYY-MM-DDTHH:MM")
    try:
        start = datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError as exc:
        raise RuleError(f"start_local {text!r} is not a real date and time") from exc
    if not EARLIEST_YEAR <= start.year <= LATEST_YEAR:
        raise RuleError(f"start_local must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return start


def parse_rrule(rrule: str, start_local: str) -> Recurrence:
    """The rule as a ``Recurrence``, or ``RuleError`` naming the first thing the contract refuses."""
    start = parse_start_local(start_local)
    parts = _split_parts(rrule)
    freq = parts.get("FREQ")
    if freq is None:
        raise RuleError("FREQ is required")
    if freq not in get_args(Freq):
        raise RuleError("FREQ must be DAILY, WEEKLY or MONTHLY")
    interval = _int_part(parts, "INTERVAL", 1, MAX_INTERVAL)
    count = _int_part(parts, "COUNT", 1, MAX_COUNT)
    until = _until_part(parts.get("UNTIL"))
    if count is not None and until is not None:
        raise RuleError("COUNT and UNTIL must not both be given")
    wkst = _weekday(parts.get("WKST", "MO"), "WKST")
    weekdays, nth_weekdays = _byday_part(parts.get("BYDAY"), freq)
    monthdays = frozenset(_int_list(parts, "BYMONTHDAY", 31, signed=True))
    if monthdays and freq == "WEEKLY":
        raise RuleError("BYMONTHDAY is not valid with FREQ=WEEKLY")
    months = frozenset(_int_list(parts, "BYMONTH", 12, signed=False))
    setpos = tuple(sorted(set(_int_list(parts, "BYSETPOS", 31, signed=True))))
    # RFC 5545's defaults: a weekly rule repeats on start's weekday, a monthly one on start's day.
    if not (weekdays or nth_weekdays or monthdays):
        if freq == "WEEKLY":
            weekdays = frozenset({start.weekday()})
        elif freq == "MONTHLY":
            monthdays = frozenset({start.day})
    return Recurrence(
        start=start,
        freq=cast(Freq, freq),
        interval=1 if interval is None else interval,
        count=count,
        until=until,
        wkst=wkst,
        weekdays=weekdays,
        nth_weekdays=nth_weekdays,
        monthdays=monthdays,
        months=months,
        setpos=setpos,
    )


def validate_rrule(rrule: str, start_local: str) -> str | None:
    """Why the contract refuses this schedule, or None if it is acceptable."""
    try:
        rule = parse_rrule(rrule, start_local)
    except RuleError as exc:
        return str(exc)
    if next(_occurrences_local(rule, rule.start, rule.start + FIRST_YEAR), None) is None:
        return "the rule has no occurrence in the year after start_local"
    return None


def occurrences(rrule: str, start_local: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants ``t`` of the rule with ``start <= t < end``, in order.

    The rule runs in ``tz``'s wall-clock time, so 19:00 stays 19:00 across DST; the contract's gap and
    overlap rule is ``localtime.resolve_local``'s. ``start``/``end`` must be aware. ``RuleError`` for a
    rule ``validate_rrule`` would refuse.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    rule = parse_rrule(rrule, start_local)
    # A day's margin each side covers any UTC offset and any DST shift between wall time and instant.
    local_lo = _local_wall(start, tz, timedelta(days=-1))
    local_hi = _local_wall(end, tz, timedelta(days=1))
    instants = (resolve_local(wall, tz) for wall in expand_local(rule, local_lo, local_hi))
    return [t for t in instants if start <= t < end]


def expand_local(rule: Recurrence, lo: datetime, hi: datetime) -> list[datetime]:
    """The rule's naive wall-clock occurrences ``t`` with ``lo <= t < hi``."""
    return list(_occurrences_local(rule, lo, hi))


def _occurrences_local(rule: Recurrence, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """``expand_local`` one at a time: whether a rule has any occurrence in a year is known at its
    first one, not after building the year's (a daily rule has 365)."""
    # Without COUNT, skip straight to the period holding ``lo``; COUNT is counted from the start.
    first = 0 if rule.count is not None else _period_index_at(rule, lo.date())
    last_day = hi.date() if rule.until is None else min(hi.date(), rule.until.date())
    seen = 0
    for day in _candidate_days(rule, first, last_day):
        wall = datetime.combine(day, rule.start.time())
        if wall < rule.start:
            continue
        if wall >= hi or (rule.until is not None and wall > rule.until):
            break
        seen += 1
        if rule.count is not None and seen > rule.count:
            break
        if wall >= lo:
            yield wall


def _local_wall(at: datetime, tz: ZoneInfo, margin: timedelta) -> datetime:
    """``at`` as naive wall time in ``tz`` plus ``margin``, held at the calendar's ends."""
    try:
        return at.astimezone(tz).replace(tzinfo=None) + margin
    except OverflowError:
        return datetime.max if margin > timedelta(0) else datetime.min


def _split_parts(rrule: str) -> dict[str, str]:
    if "\n" in rrule or "\r" in rrule:
        raise RuleError("the schedule takes exactly one RRULE line")
    body = rrule.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if ":" in body:
        raise RuleError("only an RRULE line is accepted (no DTSTART, EXDATE, RDATE or other properties)")
    parts: dict[str, str] = {}
    for item in filter(None, body.split(";")):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or not name or not value.strip():
            raise RuleError(f"malformed rule part {item!r}: expected NAME=VALUE")
        if name in _REFUSED_PARTS:
            raise RuleError(_REFUSED_PARTS[name])
        if name not in _ALLOWED_PARTS:
            raise RuleError(f"unknown or unsupported rule part {name}")
        if name in parts:
            raise RuleError(f"{name} is given twice")
        parts[name] = value.strip().upper()
    if not parts:
        raise RuleError("the RRULE is empty")
    return parts


def _parse_int(text: str, name: str) -> int:
    if not _INT.fullmatch(text):
        raise RuleError(f"{name} must be a whole number, not {text!r}")
    return int(text)


def _int_part(parts: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in parts:
        return None
    value = _parse_int(parts[name], name)
    if not low <= value <= high:
        raise RuleError(f"{name} must be between {low} and {high}")
    return value


def _int_list(parts: dict[str, str], name: str, high: int, *, signed: bool) -> list[int]:
    if name not in parts:
        return []
    values = [_parse_int(text, name) for text in parts[name].split(",")]
    for value in values:
        if value == 0 or abs(value) > high or (value < 0 and not signed):
            bounds = f"-{high}..-1 or 1..{high}" if signed else f"1..{high}"
            raise RuleError(f"{name} values must be in {bounds}, not {value}")
    return values


def _weekday(text: str, name: str) -> int:
    if text not in _WEEKDAYS:
        raise RuleError(f"{name} must be one of {', '.join(_WEEKDAYS)}, not {text!r}")
    return _WEEKDAYS.index(text)


def _byday_part(text: str | None, freq: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    plain: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(",") if text is not None else ():
        match = _BYDAY.fullmatch(item)
        if not match:
            raise RuleError(f"BYDAY entry {item!r} is not a weekday such as MO or 1MO")
        weekday = _WEEKDAYS.index(match.group(2))
        if match.group(1) is None:
            plain.add(weekday)
            continue
        n = int(match.group(1))
        if freq != "MONTHLY":
            raise RuleError("a numbered BYDAY (such as 1MO) needs FREQ=MONTHLY")
        if n == 0 or abs(n) > 5:
            raise RuleError(f"BYDAY entry {item!r}: the number must be in -5..-1 or 1..5")
        nth.add((weekday, n))
    return frozenset(plain), frozenset(nth)


def _until_part(text: str | None) -> datetime | None:
    if text is None:
        return None
    match = _UNTIL.fullmatch(text)
    if not match:
        raise RuleError("UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSS")
    if match.group(3):
        raise RuleError("UNTIL must be a local date or date-time without Z: the rule runs in local time")
    try:
        if match.group(2) is None:
            # A bare date includes that whole day, which is what a person means by "until the 30th".
            return datetime.strptime(match.group(1), "%Y%m%d").replace(hour=23, minute=59, second=59)
        return datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise RuleError(f"UNTIL {text!r} is not a real date") from exc


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _first_week_ordinal(rule: Recurrence) -> int:
    start = rule.start.date()
    return start.toordinal() - (start.weekday() - rule.wkst) % 7


def _period_index_at(rule: Recurrence, day: date) -> int:
    """The index of the first period that can hold ``day`` or a later day (periods count from 0)."""
    if rule.freq == "DAILY":
        offset = day.toordinal() - rule.start.toordinal()
        return max(0, offset // rule.interval)
    if rule.freq == "WEEKLY":
        offset = day.toordinal() - _first_week_ordinal(rule)
        return max(0, offset // (7 * rule.interval))
    offset = _month_index(day) - _month_index(rule.start.date())
    return max(0, offset // rule.interval)


def _period(rule: Recurrence, index: int) -> tuple[int, int] | None:
    """Ordinal range ``[first, stop)`` of period ``index``, or None past the calendar's end."""
    if rule.freq == "DAILY":
        first = rule.start.toordinal() + index * rule.interval
        stop = first + 1
    elif rule.freq == "WEEKLY":
        week = _first_week_ordinal(rule) + index * 7 * rule.interval
        # As in dateutil, the first week begins at start_local (this matters only to BYSETPOS).
        first = max(week, rule.start.toordinal())
        stop = week + 7
    else:
        year, month0 = divmod(_month_index(rule.start.date()) + index * rule.interval, 12)
        if year > date.max.year:
            return None
        first = date(year, month0 + 1, 1).toordinal()
        stop = first + calendar.monthrange(year, month0 + 1)[1]
    if stop - 1 > _LAST_ORDINAL:
        return None
    return first, stop


def _candidate_days(rule: Recurrence, first_index: int, last_day: date) -> Iterator[date]:
    """Matching days of the periods from ``first_index`` to the one holding ``last_day``, BYSETPOS
    applied, in calendar order. The bound is what keeps a rarely matching rule from spinning."""
    last = last_day.toordinal()
    index = first_index
    while (bounds := _period(rule, index)) is not None and bounds[0] <= last:
        days = [d for d in map(date.fromordinal, range(*bounds)) if _matches(rule, d)]
        if rule.setpos:
            days = sorted({days[p - 1 if p > 0 else p] for p in rule.setpos if abs(p) <= len(days)})
        yield from days
        index += 1


def _matches(rule: Recurrence, day: date) -> bool:
    if rule.months and day.month not in rule.months:
        return False
    month_length = calendar.monthrange(day.year, day.month)[1]
    if rule.monthdays and not (day.day in rule.monthdays or day.day - month_length - 1 in rule.monthdays):
        return False
    if rule.weekdays or rule.nth_weekdays:
        weekday = day.weekday()
        from_start = (day.day - 1) // 7 + 1
        from_end = -((month_length - day.day) // 7 + 1)
        return (
            weekday in rule.weekdays
            or (weekday, from_start) in rule.nth_weekdays
            or (weekday, from_end) in rule.nth_weekdays
        )
    return True
