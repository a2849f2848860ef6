"""Response targets, pure: by when each severity must be acknowledged, in the program's business hours,
across weekends and the DST days of 2026 in America/Chicago (Sunday 03-08 and Sunday 11-01)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.rules.config import (
    DEFAULT_RULES,
    WEEKDAYS,
    BusinessHours,
    ProgramRules,
    ProgramSettings,
    ResponseTarget,
    ResponseTargets,
)
from aftercare.rules.targets import add_business_days, respond_by
from aftercare.scheduling.localtime import at_local_time

CHICAGO = ZoneInfo("America/Chicago")
OFFICE = BusinessHours()  # Monday to Friday, 09:00-17:00
EARLY = BusinessHours(days=WEEKDAYS, start="01:00", end="05:00")  # every day, across the 02:00 change


def local(text: str) -> datetime:
    """``2026-03-06 19:00`` in Chicago; ``2026-11-01 01:30 CST`` picks the second 01:30 (fold)."""
    second = text.endswith(" CST")
    naive = datetime.fromisoformat(text.removesuffix(" CST").removesuffix(" CDT"))
    return naive.replace(tzinfo=CHICAGO, fold=1 if second else 0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Inside the window: the same local time on the next business day.
        ("2026-03-03 11:00", "2026-03-04 11:00"),  # Tuesday -> Wednesday
        ("2026-03-06 11:00", "2026-03-09 11:00"),  # Friday -> Monday, over the weekend
        # Before the opening, at it, at the closing or after: the next opening's day's closing.
        ("2026-03-03 08:00", "2026-03-03 17:00"),
        ("2026-03-03 09:00", "2026-03-03 17:00"),
        ("2026-03-03 17:00", "2026-03-04 17:00"),
        ("2026-03-03 23:30", "2026-03-04 17:00"),
        # Friday evening and the weekend: the end of Monday.
        ("2026-02-27 19:00", "2026-03-02 17:00"),
        ("2026-02-28 10:00", "2026-03-02 17:00"),
        ("2026-03-01 23:59", "2026-03-02 17:00"),
    ],
)
def test_one_business_day(start: str, due: str) -> None:
    assert add_business_days(local(start).astimezone(UTC), 1, OFFICE, CHICAGO) == local(due)


def test_over_the_spring_forward_weekend_monday_is_still_monday_local() -> None:
    # Friday 19:00 CST is 01:00Z; Monday 17:00 CDT is 22:00Z: 69 hours, not 70.
    due = add_business_days(utc("2026-03-07T01:00"), 1, OFFICE, CHICAGO)
    assert due == utc("2026-03-09T22:00")
    # The week before, the same Friday evening is due Monday 17:00 CST, 23:00Z.
    assert add_business_days(utc("2026-02-28T01:00"), 1, OFFICE, CHICAGO) == utc("2026-03-02T23:00")
    # Inside the window: Friday 11:00 CST (17:00Z) is due Monday 11:00 CDT (16:00Z), 71 hours later.
    assert add_business_days(utc("2026-03-06T17:00"), 1, OFFICE, CHICAGO) == utc("2026-03-09T16:00")


def test_over_the_fall_back_weekend_monday_is_still_monday_local() -> None:
    # Friday 18:00 CDT (23:00Z) -> Monday 17:00 CST (23:00Z): 72 hours plus the hour given back.
    assert add_business_days(utc("2026-10-30T23:00"), 1, OFFICE, CHICAGO) == utc("2026-11-02T23:00")
    assert add_business_days(utc("2026-10-30T16:00"), 1, OFFICE, CHICAGO) == utc("2026-11-02T17:00")


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # A window that holds the spring-forward gap (01:00 CST to 05:00 CDT is 3 hours that day).
        ("2026-03-07T08:30", "2026-03-08T08:30"),  # Sat 02:30 CST, 1.5 h in -> Sun 03:30 CDT
        ("2026-03-08T07:30", "2026-03-09T06:30"),  # Sun 01:30 CST, 0.5 h in -> Mon 01:30 CDT
        ("2026-03-08T09:30", "2026-03-09T08:30"),  # Sun 04:30 CDT, 2.5 h in -> Mon 03:30 CDT
        ("2026-03-08T06:30", "2026-03-08T10:00"),  # Sun 00:30 CST, before opening -> Sun 05:00 CDT
        ("2026-03-07T10:59", "2026-03-08T10:00"),  # Sat 04:59 CST, 3 h 59 in -> capped: Sun 05:00 CDT
        # A window that holds the fall-back hour (01:00 CDT to 05:00 CST is 5 hours that day).
        ("2026-10-31T06:30", "2026-11-01T06:30"),  # Sat 01:30 CDT -> Sun the first 01:30 (CDT)
        ("2026-11-01T07:30", "2026-11-02T08:30"),  # Sun the second 01:30 (CST), 1.5 h in -> Mon 02:30 CST
        ("2026-11-01T10:30", "2026-11-02T11:00"),  # Sun 04:30 CST, 4.5 h in -> capped: Mon 05:00 CST
    ],
)
def test_business_days_across_dst_days(start: str, due: str) -> None:
    assert add_business_days(utc(start), 1, EARLY, CHICAGO) == utc(due)


def test_several_business_days() -> None:
    assert add_business_days(local("2026-03-05 11:00"), 2, OFFICE, CHICAGO) == local("2026-03-09 11:00")
    assert add_business_days(local("2026-03-06 19:00"), 2, OFFICE, CHICAGO) == local("2026-03-10 17:00")
    weekends = BusinessHours(days=("sat", "sun"), start="10:00", end="14:00")
    assert add_business_days(local("2026-03-04 12:00"), 3, weekends, CHICAGO) == local("2026-03-14 14:00")


def test_respond_by_per_severity_with_the_default_targets() -> None:
    # Tuesday 2026-11-24 12:00 Chicago (18:00Z).
    start = utc("2026-11-24T18:00")
    assert respond_by(DEFAULT_RULES, "critical", start=start) == start + timedelta(minutes=15)
    assert respond_by(DEFAULT_RULES, "high", start=start) == start + timedelta(hours=4)
    assert respond_by(DEFAULT_RULES, "warning", start=start) == utc("2026-11-25T18:00")
    # Friday 2026-11-27 20:00 Chicago: the minutes run through the night, the business day waits.
    friday_night = utc("2026-11-28T02:00")
    assert respond_by(DEFAULT_RULES, "critical", start=friday_night) == utc("2026-11-28T02:15")
    assert respond_by(DEFAULT_RULES, "high", start=friday_night) == utc("2026-11-28T06:00")
    assert respond_by(DEFAULT_RULES, "warning", start=friday_night) == local("2026-11-30 17:00")


def test_minutes_are_elapsed_time_across_the_gap() -> None:
    # 01:50 CST on spring-forward night plus 15 minutes is 03:05 CDT (02:05 never happens).
    assert respond_by(DEFAULT_RULES, "critical", start=local("2026-03-08 01:50")) == local("2026-03-08 03:05")


def test_respond_by_follows_the_program_settings() -> None:
    rules = ProgramRules(
        program=ProgramSettings(
            timezone="Europe/Berlin",
            business_hours=BusinessHours(days=("mon", "tue"), start="08:00", end="12:00"),
        ),
        response_targets=ResponseTargets(high=ResponseTarget(business_days=1)),
    )
    # Tuesday 2026-11-24 13:00 Berlin is after closing: due at the end of Monday 12:00 Berlin (11:00Z).
    assert respond_by(rules, "high", start=utc("2026-11-24T12:00")) == utc("2026-11-30T11:00")


@st.composite
def business_hours(draw: st.DrawFn) -> BusinessHours:
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    start = draw(st.integers(min_value=0, max_value=23 * 60 + 58))
    end = draw(st.integers(min_value=start + 1, max_value=23 * 60 + 59))
    return BusinessHours(
        days=tuple(d for d in WEEKDAYS if d in days),
        start=f"{start // 60:02d}:{start % 60:02d}",
        end=f"{end // 60:02d}:{end % 60:02d}",
    )


STARTS = st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 15)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    hours=business_hours(),
    days=st.integers(min_value=1, max_value=3),
    first=STARTS,
    gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    zone=st.sampled_from(["America/Chicago", "Europe/London", "Australia/Lord_Howe", "UTC"]),
)
def test_due_is_later_in_business_hours_and_never_earlier_for_a_later_start(
    hours: BusinessHours, days: int, first: datetime, gap: timedelta, zone: str
) -> None:
    tz = ZoneInfo(zone)
    due = add_business_days(first, days, hours, tz)
    assert due >= first
    assert add_business_days(first + gap, days, hours, tz) >= due
    # Due within a business day's window (its closing included), on a business day, local.
    day = due.astimezone(tz).date()
    assert WEEKDAYS[day.weekday()] in hours.days
    opening = at_local_time(day, time.fromisoformat(hours.start), tz)
    closing = at_local_time(day, time.fromisoformat(hours.end), tz)
    assert opening <= due <= max(opening, closing)
