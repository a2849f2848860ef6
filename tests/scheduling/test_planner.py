"""The planner against hand-computed instants: DST gaps and overlaps, odd offsets, travel, quiet hours.

Every expected UTC instant below was worked out from the zone's rules, not read back from the code:
America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT and falls back 2026-11-01
02:00 EDT -> 01:00 EST; Europe/London 2026-03-29 01:00 GMT -> 02:00 BST and 2026-10-25 02:00 BST ->
01:00 GMT; Australia/Lord_Howe (+10:30 / +11:00) 2026-04-05 02:00 -> 01:30 and 2026-10-04
02:00 -> 02:30; Asia/Kathmandu is +05:45 all year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pytest

from aftercare.plans.schemas import plan_body_decoder
from aftercare.scheduling.localtime import day_bounds, zone
from aftercare.scheduling.planner import (
    NUDGE_STREAM,
    PROMPT_STREAM,
    GraduateSchedule,
    ItemKind,
    Occurrence,
    QuietHours,
    ScheduledItem,
    checkin_time_conflicts,
    items_from_plan,
    next_occurrence,
    next_prompt_after,
    plan_occurrences,
    ttl_seconds,
    window_closes,
)

NIGHT = QuietHours(start=time(22, 0), end=time(8, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def graduate(
    tz: str = "America/New_York",
    checkin: time = time(19, 0),
    quiet: QuietHours | None = NIGHT,
    nudge_minutes: int = 120,
    status: Literal["active", "discharged"] = "active",
) -> GraduateSchedule:
    return GraduateSchedule(
        timezone=tz,
        checkin_time=checkin,
        quiet_hours=quiet,
        nudge_after_minutes=nudge_minutes,
        status=status,
    )


def item(
    start_local: str,
    *offsets: int,
    kind: ItemKind = "therapy",
    rrule: str = "FREQ=DAILY",
    item_id: str = "t1",
) -> ScheduledItem:
    return ScheduledItem(
        item_id=item_id,
        kind=kind,
        rrule=rrule,
        start_local=start_local,
        reminder_minutes_before=offsets,
    )


def medication(start_local: str, item_id: str = "m1") -> ScheduledItem:
    return item(start_local, 0, kind="medication", item_id=item_id)


def of_kind(occurrences: list[Occurrence], kind: str) -> list[Occurrence]:
    return [occurrence for occurrence in occurrences if occurrence.kind == kind]


def reminders_only(occurrences: list[Occurrence]) -> list[Occurrence]:
    return [occurrence for occurrence in occurrences if occurrence.item_id is not None]


def one_day(
    schedule: GraduateSchedule, day: date, items: tuple[ScheduledItem, ...] = (), **kwargs: Any
) -> list[Occurrence]:
    """Everything planned during the graduate's local ``day``."""
    start, end = day_bounds(day, zone(schedule.timezone))
    return plan_occurrences(schedule, items, start=start, end=end, **kwargs)


# --- the daily prompt keeps its wall-clock time ------------------------------------------------------

PROMPTS = [
    # zone, checkin_time, local day, expected prompt instant, what it shows
    ("America/New_York", time(19, 0), date(2026, 3, 7), utc(2026, 3, 8, 0, 0), "EST, the day before"),
    (
        "America/New_York",
        time(19, 0),
        date(2026, 3, 8),
        utc(2026, 3, 8, 23, 0),
        "EDT, an hour earlier in UTC",
    ),
    ("America/New_York", time(2, 30), date(2026, 3, 8), utc(2026, 3, 8, 7, 30), "gap: 02:30 -> 03:30 EDT"),
    ("America/New_York", time(2, 30), date(2026, 3, 9), utc(2026, 3, 9, 6, 30), "02:30 EDT again"),
    ("America/New_York", time(1, 30), date(2026, 11, 1), utc(2026, 11, 1, 5, 30), "overlap: first, EDT"),
    ("America/New_York", time(19, 0), date(2026, 11, 1), utc(2026, 11, 2, 0, 0), "EST after fall-back"),
    ("Europe/London", time(1, 30), date(2026, 3, 29), utc(2026, 3, 29, 1, 30), "gap: 01:30 -> 02:30 BST"),
    ("Europe/London", time(19, 0), date(2026, 3, 29), utc(2026, 3, 29, 18, 0), "BST"),
    ("Europe/London", time(1, 30), date(2026, 10, 25), utc(2026, 10, 25, 0, 30), "overlap: first, BST"),
    ("Europe/London", time(19, 0), date(2026, 10, 25), utc(2026, 10, 25, 19, 0), "GMT"),
    ("Australia/Lord_Howe", time(19, 0), date(2026, 10, 3), utc(2026, 10, 3, 8, 30), "+10:30"),
    ("Australia/Lord_Howe", time(2, 15), date(2026, 10, 4), utc(2026, 10, 3, 15, 45), "30-min gap: 02:45"),
    ("Australia/Lord_Howe", time(19, 0), date(2026, 10, 4), utc(2026, 10, 4, 8, 0), "+11:00"),
    ("Australia/Lord_Howe", time(1, 45), date(2026, 4, 5), utc(2026, 4, 4, 14, 45), "overlap: first, +11"),
    ("Australia/Lord_Howe", time(19, 0), date(2026, 4, 5), utc(2026, 4, 5, 8, 30), "+10:30 again"),
    ("Asia/Kathmandu", time(19, 0), date(2026, 3, 8), utc(2026, 3, 8, 13, 15), "+05:45"),
    ("Asia/Kathmandu", time(0, 10), date(2026, 6, 1), utc(2026, 5, 31, 18, 25), "previous UTC day"),
]


@pytest.mark.parametrize(("tz", "checkin", "day", "expected", "why"), PROMPTS, ids=[p[4] for p in PROMPTS])
def test_prompt_fires_at_checkin_time_local(tz: str, checkin: time, day: date, expected: datetime, why: str):
    prompts = of_kind(one_day(graduate(tz, checkin, quiet=None), day), "checkin_prompt")

    assert [(p.planned_at, p.due_at, p.local_date, p.status) for p in prompts] == [
        (expected, expected, day, "planned")
    ]
    assert prompts[0].key == f"checkin_prompt:{day.isoformat()}"


DAY_ENDS = [
    ("America/New_York", date(2026, 3, 8), utc(2026, 3, 9, 4, 0)),  # 23-hour day
    ("America/New_York", date(2026, 11, 1), utc(2026, 11, 2, 5, 0)),  # 25-hour day
    ("Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 23, 0)),
    ("Europe/London", date(2026, 10, 25), utc(2026, 10, 26, 0, 0)),
    ("Australia/Lord_Howe", date(2026, 10, 4), utc(2026, 10, 4, 13, 0)),  # 23.5 hours
    ("Australia/Lord_Howe", date(2026, 4, 5), utc(2026, 4, 5, 13, 30)),  # 24.5 hours
    ("Asia/Kathmandu", date(2026, 3, 8), utc(2026, 3, 8, 18, 15)),
]


@pytest.mark.parametrize(("tz", "day", "day_end"), DAY_ENDS)
def test_prompt_and_nudge_expire_at_the_end_of_their_local_day(tz: str, day: date, day_end: datetime):
    planned = one_day(graduate(tz, quiet=None), day)

    assert {(o.kind, o.deadline) for o in planned} == {
        ("checkin_prompt", day_end),
        ("checkin_nudge", day_end),
    }


@pytest.mark.parametrize(("tz", "day", "day_end"), DAY_ENDS)
def test_window_closes_at_the_end_of_the_local_day_it_is_in(tz: str, day: date, day_end: datetime):
    assert window_closes(graduate(tz), day_end - timedelta(minutes=1)) == (day, day_end)
    # At the very instant a day closes the next day is open, and that is the next window to close.
    next_day, next_close = window_closes(graduate(tz), day_end) or (None, None)
    assert next_day == day + timedelta(days=1)
    assert next_close is not None and next_close > day_end


def test_window_closes_before_and_after_spring_forward():
    schedule = graduate()
    assert window_closes(schedule, utc(2026, 3, 8, 4, 59)) == (date(2026, 3, 7), utc(2026, 3, 8, 5, 0))
    assert window_closes(schedule, utc(2026, 3, 8, 10, 0)) == (date(2026, 3, 8), utc(2026, 3, 9, 4, 0))


def test_prompt_gap_into_quiet_hours_is_deferred_to_their_end():
    # 02:30 is outside 03:00-08:00, so the API accepts it; on 2026-03-08 it becomes 03:30, inside.
    quiet = QuietHours(start=time(3, 0), end=time(8, 0))
    assert not checkin_time_conflicts(time(2, 30), quiet)

    [prompt] = of_kind(
        one_day(graduate(checkin=time(2, 30), quiet=quiet), date(2026, 3, 8)), "checkin_prompt"
    )

    assert prompt.planned_at == utc(2026, 3, 8, 7, 30)
    assert prompt.due_at == utc(2026, 3, 8, 12, 0)  # 08:00 EDT
    assert prompt.status == "planned"


# --- the nudge ---------------------------------------------------------------------------------------

JUNE_10 = date(2026, 6, 10)  # EDT, UTC-4; a Wednesday
CHECKED_IN_JUNE_10 = frozenset({JUNE_10})


def test_nudge_follows_the_prompt_by_nudge_after_minutes():
    planned = one_day(graduate(nudge_minutes=120), JUNE_10)

    assert [(o.kind, o.key, o.planned_at, o.due_at, o.status) for o in planned] == [
        (
            "checkin_prompt",
            "checkin_prompt:2026-06-10",
            utc(2026, 6, 10, 23),
            utc(2026, 6, 10, 23),
            "planned",
        ),
        ("checkin_nudge", "checkin_nudge:2026-06-10", utc(2026, 6, 11, 1), utc(2026, 6, 11, 1), "planned"),
    ]
    assert {o.stream for o in planned} == {PROMPT_STREAM, NUDGE_STREAM}


def test_a_checked_in_day_gets_neither_prompt_nor_nudge():
    start, end = utc(2026, 6, 9, 12), utc(2026, 6, 12, 12)

    planned = plan_occurrences(graduate(), (), start=start, end=end, checked_in_dates=CHECKED_IN_JUNE_10)

    assert [o.key for o in planned] == [
        "checkin_prompt:2026-06-09",
        "checkin_nudge:2026-06-09",
        "checkin_prompt:2026-06-11",
        "checkin_nudge:2026-06-11",
    ]


def test_a_check_in_after_the_prompt_still_cancels_the_nudge():
    # Re-planning from just after the prompt, once the check-in is known, leaves no nudge for that day.
    after_prompt = utc(2026, 6, 10, 23, 5)

    planned = plan_occurrences(
        graduate(),
        (),
        start=after_prompt,
        end=after_prompt + timedelta(hours=6),
        checked_in_dates=CHECKED_IN_JUNE_10,
    )

    assert planned == []


def test_nudge_in_quiet_hours_is_skipped_when_they_outlast_its_day():
    [nudge] = of_kind(one_day(graduate(nudge_minutes=240), JUNE_10), "checkin_nudge")

    # 23:00 is quiet until 08:00 tomorrow, after the day's window has closed.
    assert nudge.status == "skipped_quiet_hours"
    assert nudge.due_at == nudge.planned_at == utc(2026, 6, 11, 3, 0)


def test_nudge_in_quiet_hours_is_deferred_when_they_end_within_its_day():
    evening = QuietHours(start=time(21, 0), end=time(22, 0))

    [nudge] = of_kind(one_day(graduate(quiet=evening, nudge_minutes=150), JUNE_10), "checkin_nudge")

    assert nudge.planned_at == utc(2026, 6, 11, 1, 30)  # 21:30 EDT
    assert nudge.due_at == utc(2026, 6, 11, 2, 0)  # 22:00 EDT
    assert nudge.status == "planned"


def test_no_nudge_once_its_day_has_closed():
    planned = one_day(graduate(nudge_minutes=360), JUNE_10)

    assert [o.kind for o in planned] == ["checkin_prompt"]


# --- reminders and quiet hours -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_local", "minutes", "due_at", "status"),
    [
        ("2026-06-10T09:00", 120, utc(2026, 6, 10, 12, 0), "planned"),  # 07:00 -> 08:00, before 09:00
        ("2026-06-10T09:00", 60, utc(2026, 6, 10, 12, 0), "planned"),  # 08:00: quiet hours just ended
        ("2026-06-10T08:15", 30, utc(2026, 6, 10, 12, 0), "planned"),  # 07:45 -> 08:00, before 08:15
        ("2026-06-10T08:00", 30, utc(2026, 6, 10, 11, 30), "skipped_quiet_hours"),  # end == the event
        ("2026-06-10T23:00", 30, utc(2026, 6, 11, 2, 30), "skipped_quiet_hours"),  # 22:30, ends tomorrow
        ("2026-06-10T21:00", 30, utc(2026, 6, 11, 0, 30), "planned"),  # 20:30, not quiet
    ],
)
def test_reminder_deferred_or_skipped_by_quiet_hours(
    start_local: str, minutes: int, due_at: datetime, status: str
):
    therapy = item(start_local, minutes, rrule="FREQ=DAILY;COUNT=1")

    [reminder] = one_day(graduate(), JUNE_10, (therapy,), checked_in_dates=CHECKED_IN_JUNE_10)

    event_at = datetime.fromisoformat(start_local).replace(tzinfo=UTC) + timedelta(hours=4)
    assert reminder.event_at == reminder.deadline == event_at
    assert reminder.planned_at == event_at - timedelta(minutes=minutes)
    assert (reminder.due_at, reminder.status) == (due_at, status)
    assert reminder.key == f"therapy_reminder:t1:{event_at:%Y-%m-%dT%H:%M:%SZ}:{minutes}"
    assert reminder.stream == f"therapy_reminder:t1:{minutes}"


@pytest.mark.parametrize(
    ("event_at", "planned_at", "quiet_end", "why"),
    [
        # 22:30 EST on the 7th; quiet ends at 08:00 EDT on the 8th, not at 13:00 UTC.
        (utc(2026, 3, 8, 14, 0), utc(2026, 3, 8, 3, 30), utc(2026, 3, 8, 12, 0), "spring forward"),
        # 00:30 EDT on 1 November; quiet ends at 08:00 EST, 13:00 UTC.
        (utc(2026, 11, 1, 15, 0), utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 13, 0), "fall back"),
    ],
)
def test_quiet_hours_spanning_midnight_end_on_the_next_local_day_across_dst(
    event_at: datetime, planned_at: datetime, quiet_end: datetime, why: str
):
    start_local = f"{event_at.date().isoformat()}T10:00"
    therapy = item(start_local, 630, rrule="FREQ=DAILY;COUNT=1")

    [reminder] = reminders_only(
        plan_occurrences(graduate(), (therapy,), start=event_at - timedelta(days=1), end=event_at)
    )

    assert (reminder.event_at, reminder.planned_at) == (event_at, planned_at)
    assert (reminder.due_at, reminder.status) == (quiet_end, "planned")


@pytest.mark.parametrize(
    ("minutes", "planned_at", "due_at", "why"),
    [
        (105, utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 30), "01:15 EDT, first pass: ends 01:30 EDT"),
        (45, utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30), "01:15 EST, repeated hour: ends 01:30 EST"),
    ],
)
def test_quiet_hours_ending_inside_the_repeated_hour(
    minutes: int, planned_at: datetime, due_at: datetime, why: str
):
    after_midnight = QuietHours(start=time(0, 0), end=time(1, 30))
    therapy = item("2026-11-01T02:00", minutes, rrule="FREQ=DAILY;COUNT=1")  # 07:00 UTC

    [reminder] = reminders_only(one_day(graduate(quiet=after_midnight), date(2026, 11, 1), (therapy,)))

    assert reminder.planned_at == planned_at
    assert reminder.due_at == due_at
    assert reminder.due_at > reminder.planned_at


def test_medication_keeps_its_time_in_quiet_hours():
    doses = (medication("2026-06-01T07:00"), medication("2026-06-01T23:30", item_id="m2"))

    reminders = of_kind(one_day(graduate(), JUNE_10, doses), "medication_reminder")

    assert [(r.item_id, r.planned_at, r.due_at, r.status) for r in reminders] == [
        ("m1", utc(2026, 6, 10, 11, 0), utc(2026, 6, 10, 11, 0), "planned"),
        ("m2", utc(2026, 6, 11, 3, 30), utc(2026, 6, 11, 3, 30), "planned"),
    ]
    # A dose reminder is worthless once its local day is over.
    assert {r.deadline for r in reminders} == {utc(2026, 6, 11, 4, 0)}
    assert {r.title for r in reminders} == {"Time for your medication"}


@pytest.mark.parametrize(
    ("kind", "minutes", "title"),
    [
        ("therapy", 60, "Appointment in 1 hour"),
        ("therapy", 0, "Appointment starting now"),
        ("therapy", 1440, "Appointment in 24 hours"),
        ("support_group", 15, "Meeting in 15 minutes"),
        ("support_group", 90, "Meeting in 1 hour 30 minutes"),
        ("support_group", 121, "Meeting in 2 hours 1 minute"),
    ],
)
def test_reminder_titles_name_no_provider_fellowship_or_item(kind: ItemKind, minutes: int, title: str):
    entry = item("2026-06-10T12:00", minutes, kind=kind, item_id="AA-Tuesday-Dr-Smith")

    [reminder] = one_day(graduate(quiet=None), JUNE_10, (entry,), checked_in_dates=CHECKED_IN_JUNE_10)

    assert reminder.title == title
    assert reminder.kind == f"{kind}_reminder"


def test_each_offset_is_one_reminder_and_keys_never_repeat():
    therapy = item("2026-03-01T09:00", 60, 1440, 60, rrule="FREQ=WEEKLY;BYDAY=TU,TH")
    group = item("2026-03-01T19:30", 30, kind="support_group", rrule="FREQ=DAILY", item_id="g1")

    planned = plan_occurrences(graduate(), (therapy, group), start=utc(2026, 3, 1), end=utc(2026, 4, 1))

    keys = [o.key for o in planned]
    assert len(keys) == len(set(keys))
    assert len(of_kind(planned, "therapy_reminder")) == 2 * 9  # 9 Tuesdays and Thursdays from 3 March
    assert len(of_kind(planned, "support_group_reminder")) == 31
    assert [o.due_at for o in planned] == sorted(o.due_at for o in planned)


@pytest.mark.parametrize(
    "split",
    [utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 23, 0), utc(2026, 3, 10, 10, 30), utc(2026, 3, 11, 13, 0)],
    ids=["at the gap", "at a prompt", "at a deferred reminder's plan", "at a reminder's event"],
)
def test_adjacent_windows_plan_exactly_what_one_window_plans(split: datetime):
    schedule = graduate()
    items = (
        item("2026-03-01T09:00", 150, 60, rrule="FREQ=DAILY"),
        medication("2026-03-01T07:00"),
        item("2026-03-02T19:30", 30, kind="support_group", rrule="FREQ=WEEKLY;BYDAY=MO,WE", item_id="g1"),
    )
    start, end = utc(2026, 3, 6), utc(2026, 3, 14)

    whole = plan_occurrences(schedule, items, start=start, end=end)
    parts = plan_occurrences(schedule, items, start=start, end=split) + plan_occurrences(
        schedule, items, start=split, end=end
    )

    assert sorted(parts, key=lambda o: o.key) == sorted(whole, key=lambda o: o.key)


def test_handled_keys_are_left_out():
    therapy = item("2026-06-10T09:00", 60, rrule="FREQ=DAILY;COUNT=1")
    handled = frozenset({"checkin_prompt:2026-06-10", "therapy_reminder:t1:2026-06-10T13:00:00Z:60"})

    planned = one_day(graduate(), JUNE_10, (therapy,), handled_keys=handled)

    assert [o.key for o in planned] == ["checkin_nudge:2026-06-10"]


# --- the next occurrence, for the sweeper ------------------------------------------------------------


def test_next_prompt_is_strictly_after_and_holds_local_time_across_the_gap():
    schedule = graduate()

    first = next_prompt_after(schedule, utc(2026, 3, 7, 12))
    assert first is not None and (first.local_date, first.due_at) == (date(2026, 3, 7), utc(2026, 3, 8, 0))

    second = next_prompt_after(schedule, first.planned_at)
    assert second is not None and (second.local_date, second.due_at) == (
        date(2026, 3, 8),
        utc(2026, 3, 8, 23),
    )
    assert second.due_at - first.due_at == timedelta(hours=23)


def test_next_prompt_skips_days_already_checked_in():
    found = next_prompt_after(graduate(), utc(2026, 3, 8, 12), checked_in_dates=frozenset({date(2026, 3, 8)}))

    assert found is not None and (found.local_date, found.due_at) == (date(2026, 3, 9), utc(2026, 3, 9, 23))


def test_next_nudge_and_next_reminder_by_stream():
    therapy = item("2026-06-02T18:00", 60, 15, rrule="FREQ=WEEKLY;BYDAY=TU,TH")  # 22:00 / 22:45 UTC
    schedule = graduate()

    nudge = next_occurrence(schedule, (therapy,), NUDGE_STREAM, after=utc(2026, 6, 10, 23))
    assert nudge is not None and (nudge.kind, nudge.due_at) == ("checkin_nudge", utc(2026, 6, 11, 1))

    tuesday = next_occurrence(schedule, (therapy,), "therapy_reminder:t1:60", after=utc(2026, 6, 9))
    assert tuesday is not None and tuesday.due_at == utc(2026, 6, 9, 21)
    thursday = next_occurrence(schedule, (therapy,), "therapy_reminder:t1:60", after=tuesday.planned_at)
    assert thursday is not None and thursday.due_at == utc(2026, 6, 11, 21)
    assert thursday.event_at == utc(2026, 6, 11, 22)


def test_next_reminder_of_a_rare_rule_is_found_months_ahead():
    # Monthly on the last Friday... of February only: next is almost a year away.
    rare = item("2026-01-01T18:00", 60, rrule="FREQ=MONTHLY;BYMONTH=2;BYDAY=-1FR")

    found = next_occurrence(graduate(), (rare,), "therapy_reminder:t1:60", after=utc(2026, 3, 1))

    assert found is not None and found.event_at == utc(2027, 2, 26, 23)  # 18:00 EST


def test_no_next_reminder_once_the_rule_has_ended_or_the_item_is_gone():
    ended = item("2026-06-01T18:00", 60, rrule="FREQ=DAILY;COUNT=3")
    schedule = graduate()

    assert next_occurrence(schedule, (ended,), "therapy_reminder:t1:60", after=utc(2026, 6, 3, 23)) is None
    assert next_occurrence(schedule, (), "therapy_reminder:t1:60", after=utc(2026, 6, 1)) is None
    assert next_occurrence(schedule, (ended,), "therapy_reminder:t1:30", after=utc(2026, 6, 1)) is None


# --- travel -----------------------------------------------------------------------------------------


def test_travelling_west_is_not_prompted_twice_for_one_local_day():
    prompted = next_prompt_after(graduate("America/New_York"), utc(2026, 6, 10, 12))
    assert prompted is not None and (prompted.local_date, prompted.due_at) == (JUNE_10, utc(2026, 6, 10, 23))

    # 20:30 in New York, 17:30 in Los Angeles: the graduate lands and the zone changes.
    landed = utc(2026, 6, 11, 0, 30)
    in_la = graduate("America/Los_Angeles")

    naive = next_prompt_after(in_la, landed)
    assert naive is not None and naive.key == prompted.key  # a second prompt for 10 June, if untracked
    tracked = next_prompt_after(in_la, landed, handled_keys=frozenset({prompted.key}))
    assert tracked is not None
    assert (tracked.local_date, tracked.due_at) == (date(2026, 6, 11), utc(2026, 6, 12, 2))  # 19:00 PDT

    window = plan_occurrences(
        in_la, (), start=landed, end=landed + timedelta(days=2), handled_keys=frozenset({prompted.key})
    )
    assert [o.key for o in of_kind(window, "checkin_prompt")] == ["checkin_prompt:2026-06-11"]


def test_travelling_east_gets_the_new_local_evening():
    landed = utc(2026, 6, 11, 0, 30)  # 06:15 on 11 June in Kathmandu

    found = next_prompt_after(
        graduate("Asia/Kathmandu"), landed, handled_keys=frozenset({"checkin_prompt:2026-06-10"})
    )

    assert found is not None and (found.local_date, found.due_at) == (
        date(2026, 6, 11),
        utc(2026, 6, 11, 13, 15),
    )


# --- checkin_time against quiet hours ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkin", "quiet", "conflicts"),
    [
        (time(19, 0), NIGHT, False),
        (time(22, 0), NIGHT, True),  # the start is quiet
        (time(23, 30), NIGHT, True),
        (time(0, 0), NIGHT, True),
        (time(7, 59), NIGHT, True),
        (time(8, 0), NIGHT, False),  # the end is not
        (time(14, 0), QuietHours(start=time(13, 0), end=time(15, 0)), True),
        (time(16, 0), QuietHours(start=time(13, 0), end=time(15, 0)), False),
        (time(3, 0), QuietHours(start=time(22, 0), end=time(22, 0)), False),  # start == end: none
        (time(3, 0), None, False),
    ],
)
def test_checkin_time_conflicts(checkin: time, quiet: QuietHours | None, conflicts: bool):
    assert checkin_time_conflicts(checkin, quiet) is conflicts


def test_equal_start_and_end_means_no_quiet_hours():
    none = QuietHours(start=time(0, 0), end=time(0, 0))
    therapy = item("2026-06-10T06:00", 60, rrule="FREQ=DAILY;COUNT=1")

    [reminder] = one_day(graduate(quiet=none), JUNE_10, (therapy,), checked_in_dates=CHECKED_IN_JUNE_10)

    assert (reminder.due_at, reminder.status) == (reminder.planned_at, "planned")


# --- TTL, discharge, input checks --------------------------------------------------------------------


def test_ttl_runs_to_the_deadline_and_never_below_zero():
    therapy = item("2026-06-10T12:00", 60, rrule="FREQ=DAILY;COUNT=1")
    prompt, reminder = (
        of_kind(one_day(graduate(), JUNE_10, (therapy,)), kind)[0]
        for kind in ("checkin_prompt", "therapy_reminder")
    )

    assert ttl_seconds(prompt, prompt.due_at) == 5 * 3600  # 19:00 to midnight
    assert ttl_seconds(reminder, reminder.due_at) == 3600
    assert ttl_seconds(prompt, prompt.deadline + timedelta(hours=1)) == 0


def test_a_discharged_graduate_gets_nothing():
    discharged = graduate(status="discharged")
    therapy = item("2026-06-01T09:00", 60)
    after = utc(2026, 6, 10)

    assert plan_occurrences(discharged, (therapy,), start=after, end=after + timedelta(days=7)) == []
    assert next_prompt_after(discharged, after) is None
    assert next_occurrence(discharged, (therapy,), "therapy_reminder:t1:60", after=after) is None
    assert window_closes(discharged, after) is None


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="naive"):
        plan_occurrences(graduate(), (), start=datetime(2026, 6, 10), end=utc(2026, 6, 11))


# --- from the plan -----------------------------------------------------------------------------------

PLAN_JSON = b"""{
  "therapy": [{"id": "t1", "kind": "psychiatry", "provider": "Dr Alvarez",
               "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2026-06-03T10:00"},
               "reminder_minutes_before": [1440, 60]}],
  "support_groups": [{"id": "g1", "name": "Downtown Wednesday", "fellowship": "AA",
                      "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2026-06-03T19:30"},
                      "reminder_minutes_before": [30]}],
  "medications": [
    {"id": "m1", "name": "Naltrexone", "dose": "50 mg",
     "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-06-01T08:30"}, "remind": true},
    {"id": "m2", "name": "Disulfiram", "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-06-01T09:00"},
     "remind": false}
  ]
}"""


def test_items_from_plan_keep_offsets_and_only_medications_to_remind():
    items = items_from_plan(plan_body_decoder.decode(PLAN_JSON))

    assert [(i.item_id, i.kind, i.rrule, i.start_local, i.reminder_minutes_before) for i in items] == [
        ("t1", "therapy", "FREQ=WEEKLY;BYDAY=WE", "2026-06-03T10:00", (1440, 60)),
        ("g1", "support_group", "FREQ=WEEKLY;BYDAY=WE", "2026-06-03T19:30", (30,)),
        ("m1", "medication", "FREQ=DAILY", "2026-06-01T08:30", (0,)),
    ]


def test_a_plans_pushes_carry_no_names_on_the_lock_screen():
    items = items_from_plan(plan_body_decoder.decode(PLAN_JSON))

    planned = one_day(graduate(), JUNE_10, items)

    assert sorted(o.kind for o in planned) == [
        "checkin_nudge",
        "checkin_prompt",
        "medication_reminder",
        "support_group_reminder",
        "therapy_reminder",  # 60 minutes before; the 1440 one fell on 9 June
    ]
    for secret in ("Alvarez", "psychiatry", "Downtown", "AA", "Naltrexone", "50 mg", "Disulfiram"):
        assert not [o.title for o in planned if secret.lower() in o.title.lower()]
