"""Plan schedules: the contract's RRULE subset, bounded expansion, wall-clock time across DST."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from aftercare.scheduling.recurrence import (
    FIRST_YEAR,
    RuleError,
    expand_local,
    occurrences,
    parse_rrule,
    validate_rrule,
)

START = "2026-01-05T19:00"  # a Monday
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- validation: what the contract accepts -------------------------------------------------------


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=WEEKLY;BYDAY=TU,TH",
        "RRULE:FREQ=WEEKLY;BYDAY=TU,TH",
        "rrule:freq=weekly;byday=tu,th",
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=2;COUNT=30",
        "FREQ=DAILY;UNTIL=20260301",
        "FREQ=DAILY;UNTIL=20260301T120000",
        "FREQ=MONTHLY;BYDAY=1WE",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=MO,SA",
    ],
)
def test_accepts_rules_of_the_contracts_subset(rrule: str) -> None:
    assert validate_rrule(rrule, START) is None


def test_feb_29_is_accepted_only_when_a_leap_day_falls_in_the_first_year() -> None:
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29"
    assert validate_rrule(rule, "2027-06-01T19:00") is None  # 2028-02-29 is 273 days later
    assert (
        validate_rrule(rule, "2026-01-05T19:00") == "the rule has no occurrence in the year after start_local"
    )


@pytest.mark.parametrize(
    ("rrule", "message"),
    [
        ("FREQ=HOURLY", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=MINUTELY", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=YEARLY", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=DAILY;BYHOUR=8,10,12,14,16", "BYHOUR is not allowed"),  # five a day
        ("FREQ=DAILY;BYMINUTE=0,1,2,3,4,5", "BYMINUTE is not allowed"),
        ("FREQ=DAILY;BYSECOND=0", "BYSECOND is not allowed"),
        ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY is only valid with FREQ=YEARLY"),
        ("FREQ=DAILY;BYWEEKNO=1", "BYWEEKNO is only valid with FREQ=YEARLY"),
        ("DTSTART:20200101T000000\nRRULE:FREQ=DAILY", "exactly one RRULE line"),
        ("FREQ=DAILY\r\nEXDATE:20260106T190000", "exactly one RRULE line"),
        ("DTSTART:20200101T000000", "only an RRULE line is accepted"),
        ("EXDATE:20260106T190000", "only an RRULE line is accepted"),
        ("FREQ=DAILY;X-NAME=1", "unknown or unsupported rule part X-NAME"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
        ("BYDAY=MO", "FREQ is required"),
        ("", "the RRULE is empty"),
        ("FREQ", "malformed rule part"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be between 1 and 1000"),
        ("FREQ=DAILY;COUNT=1001", "COUNT must be between 1 and 1000"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be between 1 and 1000"),
        ("FREQ=DAILY;INTERVAL=99999999999", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;COUNT=5;UNTIL=20260301", "COUNT and UNTIL must not both be given"),
        ("FREQ=DAILY;UNTIL=20260301T000000Z", "UNTIL must be a local date or date-time without Z"),
        ("FREQ=DAILY;UNTIL=20260230", "is not a real date"),
        ("FREQ=DAILY;UNTIL=2026-03-01", "UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSS"),
        ("FREQ=DAILY;UNTIL=20260101", "no occurrence in the year after start_local"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY entry 'XX'"),
        ("FREQ=WEEKLY;BYDAY=1MO", "numbered BYDAY (such as 1MO) needs FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYDAY=6MO", "the number must be in -5..-1 or 1..5"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is not valid with FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY values must be in -31..-1 or 1..31"),
        ("FREQ=MONTHLY;BYMONTH=13", "BYMONTH values must be in 1..12"),
        ("FREQ=MONTHLY;BYMONTH=-1", "BYMONTH values must be in 1..12"),
        ("FREQ=WEEKLY;WKST=XX", "WKST must be one of"),
    ],
)
def test_refuses_what_the_contract_excludes(rrule: str, message: str) -> None:
    problem = validate_rrule(rrule, START)
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize(
    ("start_local", "message"),
    [
        ("2026-02-30T19:00", "is not a real date and time"),
        ("2026-01-05T24:00", "is not a real date and time"),
        ("2026-01-05 19:00", "YYYY-MM-DDTHH:MM"),
        ("2026-01-05T19:00:00", "YYYY-MM-DDTHH:MM"),
        ("1800-01-06T19:00", "must be in the years"),
    ],
)
def test_start_local_must_be_a_real_local_date_time(start_local: str, message: str) -> None:
    problem = validate_rrule("FREQ=DAILY", start_local)
    assert problem is not None
    assert message in problem


# These guard against walking the calendar (dateutil takes seconds to reach year 9999), not for
# speed, which bench/ measures: a bound a loaded 2-core machine meets with room to spare.
NOT_A_WALK = 1.0


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # dateutil walks to year 9999 on this one
        "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # every 7th day from a Monday is never a Tuesday
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",  # one candidate a week, asks for the second
        "FREQ=MONTHLY;INTERVAL=12;BYMONTH=3",  # every January, filtered to March
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",  # next in 2044
        "FREQ=MONTHLY;BYMONTHDAY=5;BYDAY=2MO",  # the second Monday is the 8th to the 14th
    ],
)
def test_rules_that_never_or_rarely_match_are_refused_fast(rrule: str) -> None:
    began = time.perf_counter()
    problem = validate_rrule(rrule, START)
    elapsed = time.perf_counter() - began
    assert problem == "the rule has no occurrence in the year after start_local"
    assert elapsed < NOT_A_WALK


def test_a_rare_but_valid_rule_expands_a_far_window_fast() -> None:
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"
    assert validate_rrule(rule, "2043-06-01T19:00") is None  # 2044-02-29 is a Monday
    began = time.perf_counter()
    found = occurrences(rule, "2043-06-01T19:00", NEW_YORK, utc(2050, 1, 1), utc(2050, 2, 5))
    assert found == []
    assert time.perf_counter() - began < NOT_A_WALK


def test_a_window_decades_after_start_costs_the_window_not_the_history() -> None:
    began = time.perf_counter()
    found = occurrences("FREQ=DAILY", START, NEW_YORK, utc(2090, 6, 1), utc(2090, 7, 6))
    assert len(found) == 35
    assert time.perf_counter() - began < NOT_A_WALK


# --- expansion: agrees with dateutil where dateutil is safe --------------------------------------

REFERENCE_RULES = [
    "FREQ=WEEKLY;BYDAY=TU,TH",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=1MO,3MO",
    "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=MO,SU",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,WE,FR;BYSETPOS=1,-1",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=1",
    "FREQ=DAILY;INTERVAL=3;BYMONTH=3,4",
    "FREQ=DAILY;COUNT=10;BYDAY=SA",
    "FREQ=MONTHLY;BYMONTHDAY=-1,15",
    "FREQ=MONTHLY;INTERVAL=2;BYDAY=2WE",
    "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR",
    "FREQ=DAILY;UNTIL=20260301T190000",
]


def _dateutil_between(rrule: str, start_local: str, lo: datetime, hi: datetime) -> list[datetime]:
    dtstart = datetime.strptime(start_local, "%Y-%m-%dT%H:%M")
    return [t for t in rrulestr(rrule, dtstart=dtstart).between(lo, hi, inc=True) if t < hi]


@pytest.mark.parametrize("start_local", ["2026-01-05T19:00", "2026-01-31T08:30", "2026-03-04T02:30"])
@pytest.mark.parametrize("rrule", REFERENCE_RULES)
def test_expansion_matches_dateutil(rrule: str, start_local: str) -> None:
    rule = parse_rrule(rrule, start_local)
    first, last = rule.start, rule.start + timedelta(days=800)
    assert expand_local(rule, first, last) == _dateutil_between(rrule, start_local, first, last)
    window = (rule.start + timedelta(days=301, hours=5), rule.start + timedelta(days=336))
    assert expand_local(rule, *window) == _dateutil_between(rrule, start_local, *window)


def _random_rule(rng: random.Random) -> str:
    freq = rng.choice(["DAILY", "WEEKLY", "MONTHLY"])
    parts = [f"FREQ={freq}", f"INTERVAL={rng.randint(1, 4)}"]
    days = rng.sample(["MO", "TU", "WE", "TH", "FR", "SA", "SU"], rng.randint(1, 4))
    if freq == "MONTHLY" and rng.random() < 0.5:
        days = [f"{rng.choice([1, 2, 3, -1])}{day}" for day in days]
    if rng.random() < 0.7:
        parts.append("BYDAY=" + ",".join(days))
    if freq != "WEEKLY" and rng.random() < 0.4:
        parts.append("BYMONTHDAY=" + ",".join(str(d) for d in rng.sample([*range(1, 29), -1, -2], 3)))
    if rng.random() < 0.3:
        parts.append("BYMONTH=" + ",".join(str(m) for m in rng.sample(range(1, 13), 8)))
    if freq != "DAILY" and rng.random() < 0.3:
        parts.append(f"BYSETPOS={rng.choice([1, 2, -1])}")
    if rng.random() < 0.3:
        parts.append(f"COUNT={rng.randint(1, 40)}")
    parts.append("WKST=" + rng.choice(["MO", "SU", "WE"]))
    return ";".join(parts)


def test_random_dense_rules_match_dateutil() -> None:
    rng = random.Random(20260105)
    compared = 0
    for _ in range(300):
        rrule = _random_rule(rng)
        start_local = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:15"
        if validate_rrule(rrule, start_local) is not None:
            continue
        rule = parse_rrule(rrule, start_local)
        window = (rule.start + timedelta(days=rng.randint(0, 400)), rule.start + timedelta(days=450))
        assert expand_local(rule, *window) == _dateutil_between(rrule, start_local, *window), rrule
        compared += 1
    assert compared > 150


def test_every_valid_rule_has_an_occurrence_in_its_first_year() -> None:
    rule = parse_rrule("FREQ=MONTHLY;INTERVAL=11;BYMONTHDAY=4", START)
    assert expand_local(rule, rule.start, rule.start + FIRST_YEAR) == [datetime(2026, 12, 4, 19, 0)]


def test_count_counts_from_start_even_for_a_later_window() -> None:
    found = occurrences("FREQ=DAILY;COUNT=10", START, NEW_YORK, utc(2026, 1, 12, 12), utc(2026, 2, 1))
    assert [t.astimezone(NEW_YORK).day for t in found] == [12, 13, 14]


def test_until_as_a_date_includes_that_whole_day() -> None:
    found = occurrences("FREQ=DAILY;UNTIL=20260110", START, NEW_YORK, utc(2026, 1, 1), utc(2026, 2, 1))
    assert [t.astimezone(NEW_YORK).day for t in found] == [5, 6, 7, 8, 9, 10]


def test_occurrences_before_start_local_do_not_exist() -> None:
    found = occurrences(
        "FREQ=WEEKLY;BYDAY=MO,WE", "2026-01-07T19:00", NEW_YORK, utc(2026, 1, 1), utc(2026, 1, 14)
    )
    assert [t.astimezone(NEW_YORK).date().isoformat() for t in found] == ["2026-01-07", "2026-01-12"]


# --- occurrences: UTC instants of local wall-clock times ----------------------------------------


def test_window_is_start_inclusive_end_exclusive() -> None:
    first = utc(2026, 1, 6, 0, 0)  # 19:00 EST on the 5th
    found = occurrences("FREQ=DAILY", START, NEW_YORK, first, first + timedelta(days=2))
    assert found == [first, first + timedelta(days=1)]


def test_window_bounds_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        occurrences("FREQ=DAILY", START, NEW_YORK, datetime(2026, 1, 1), utc(2026, 1, 2))


def test_occurrences_of_an_invalid_rule_raise() -> None:
    with pytest.raises(RuleError, match="BYHOUR"):
        occurrences("FREQ=DAILY;BYHOUR=1", START, NEW_YORK, utc(2026, 1, 1), utc(2026, 1, 2))


def test_new_york_evening_stays_at_19_00_across_spring_forward() -> None:
    found = occurrences("FREQ=DAILY", START, NEW_YORK, utc(2026, 3, 7), utc(2026, 3, 10))
    assert found == [utc(2026, 3, 7, 0), utc(2026, 3, 8, 0), utc(2026, 3, 8, 23), utc(2026, 3, 9, 23)]
    assert {t.astimezone(NEW_YORK).strftime("%H:%M") for t in found} == {"19:00"}


def test_new_york_time_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    found = occurrences("FREQ=DAILY", "2026-03-01T02:30", NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    # 02:30 EST on the 8th does not exist: it becomes 03:30 EDT, 07:30Z; the 9th is 02:30 EDT.
    assert found == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_new_york_time_in_the_fall_back_overlap_takes_the_first_instant() -> None:
    found = occurrences("FREQ=DAILY", "2026-10-01T01:30", NEW_YORK, utc(2026, 10, 31), utc(2026, 11, 3))
    # 01:30 on 1 November happens twice; the first is EDT (05:30Z), not EST (06:30Z).
    assert found == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_london_gap_and_overlap() -> None:
    spring = occurrences("FREQ=DAILY", "2026-03-01T01:30", LONDON, utc(2026, 3, 28), utc(2026, 3, 31))
    # 01:30 on 29 March does not exist in London: 02:30 BST, which is 01:30Z.
    assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    autumn = occurrences("FREQ=DAILY", "2026-10-01T01:30", LONDON, utc(2026, 10, 24), utc(2026, 10, 27))
    assert autumn == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_lord_howe_half_hour_shifts() -> None:
    # Lord Howe moves 30 minutes: +10:30 standard, +11:00 summer. Summer ends 5 April 2026 at 02:00
    # (01:30-02:00 happens twice) and starts 4 October 2026 at 02:00 (02:00-02:30 does not exist).
    autumn = occurrences("FREQ=DAILY", "2026-03-01T01:45", LORD_HOWE, utc(2026, 4, 3), utc(2026, 4, 6))
    assert autumn == [utc(2026, 4, 3, 14, 45), utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)]
    spring = occurrences("FREQ=DAILY", "2026-09-01T02:15", LORD_HOWE, utc(2026, 10, 2), utc(2026, 10, 5))
    # 02:15 on 4 October becomes 02:45 (+11:00) = 15:45Z on the 3rd.
    assert spring == [utc(2026, 10, 2, 15, 45), utc(2026, 10, 3, 15, 45), utc(2026, 10, 4, 15, 15)]


def test_kathmandu_quarter_hour_offset() -> None:
    found = occurrences("FREQ=WEEKLY;BYDAY=TU,TH", START, KATHMANDU, utc(2026, 12, 1), utc(2026, 12, 8))
    assert found == [utc(2026, 12, 1, 13, 15), utc(2026, 12, 3, 13, 15)]


def test_weekly_meeting_keeps_its_wall_time_through_a_month_with_a_dst_change() -> None:
    found = occurrences("FREQ=WEEKLY;BYDAY=MO,WE,SA", START, NEW_YORK, utc(2026, 2, 23), utc(2026, 3, 30))
    assert len(found) == 15
    assert {t.astimezone(NEW_YORK).strftime("%H:%M") for t in found} == {"19:00"}
    assert {t.astimezone(NEW_YORK).strftime("%a") for t in found} == {"Mon", "Wed", "Sat"}
