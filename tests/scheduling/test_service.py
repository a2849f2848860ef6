"""Schedule rows follow the graduate: creation, travel, a new check-in time, a check-in, quiet hours,
plan changes and discharge (``replan_graduate``, ``cancel_prompts_for_days``), on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from aftercare.flows.sweep import sweep
from aftercare.graduates.models import Graduate
from aftercare.rules.config import DEFAULT_RULES
from aftercare.scheduling.service import SCHEDULE_COLUMNS, CheckedInDays, cancel_prompts_for_days
from tests.scheduling.conftest import Factory, add_graduate, change_graduate, put_plan, rows

# Tuesday 2026-11-24, 12:00 in Chicago (CST, -06:00).
NOON = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def test_a_new_graduate_gets_todays_prompt_nudge_and_day_close(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)

    planned = await rows(fresh, graduate.id)

    assert set(planned) == {"checkin_prompt", "checkin_nudge", "day_close"}
    assert planned["checkin_prompt"].next_due_at == utc(2026, 11, 25, 1, 0)  # 19:00 CST
    assert planned["checkin_prompt"].local_date == date(2026, 11, 24)
    assert planned["checkin_nudge"].next_due_at == utc(2026, 11, 25, 3, 0)  # 120 minutes later
    assert planned["day_close"].next_due_at == utc(2026, 11, 25, 6, 0)  # local midnight
    assert planned["checkin_prompt"].deadline == planned["day_close"].next_due_at


async def test_travelling_west_after_the_prompt_does_not_prompt_that_day_again(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    await sweep(fresh, now=utc(2026, 11, 25, 1, 0), worker_id="w1")  # Tuesday's prompt, in Chicago

    # 17:30 in Los Angeles: Tuesday 19:00 there is still ahead, but Tuesday was prompted.
    await change_graduate(fresh, graduate.id, now=utc(2026, 11, 25, 1, 30), timezone="America/Los_Angeles")

    planned = await rows(fresh, graduate.id)
    assert planned["checkin_prompt"].local_date == date(2026, 11, 25)
    assert planned["checkin_prompt"].next_due_at == utc(2026, 11, 26, 3, 0)  # Wednesday 19:00 PST
    # Tuesday's nudge and close were not handled yet: they move to Los Angeles time, same day.
    assert planned["checkin_nudge"].local_date == date(2026, 11, 24)
    assert planned["checkin_nudge"].next_due_at == utc(2026, 11, 25, 5, 0)
    assert planned["day_close"].local_date == date(2026, 11, 24)
    assert planned["day_close"].next_due_at == utc(2026, 11, 25, 8, 0)


async def test_travelling_east_past_midnight_keeps_the_unclosed_day(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)

    # Noon in Chicago is 03:00 Wednesday in Tokyo: Tuesday's prompt there has passed, so the next is
    # Wednesday's; Tuesday's window still closes (at Tokyo's midnight, already gone: at once).
    await change_graduate(fresh, graduate.id, now=NOON, timezone="Asia/Tokyo")

    planned = await rows(fresh, graduate.id)
    assert planned["checkin_prompt"].local_date == date(2026, 11, 25)
    assert planned["checkin_prompt"].next_due_at == utc(2026, 11, 25, 10, 0)  # 19:00 JST
    assert planned["day_close"].local_date == date(2026, 11, 24)
    assert planned["day_close"].next_due_at == utc(2026, 11, 24, 15, 0)


async def test_moving_the_checkin_time_before_now_still_prompts_today(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)

    await change_graduate(fresh, graduate.id, now=NOON, checkin_time="11:00")

    prompt = (await rows(fresh, graduate.id))["checkin_prompt"]
    assert (prompt.local_date, prompt.next_due_at) == (date(2026, 11, 24), utc(2026, 11, 24, 17, 0))


async def test_a_checkin_cancels_that_days_prompt_and_nudge(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    before = await rows(fresh, graduate.id)

    async with fresh() as session, session.begin():
        locked = (await session.execute(select(*SCHEDULE_COLUMNS).where(Graduate.id == graduate.id))).one()
        await cancel_prompts_for_days(
            session,
            [CheckedInDays(graduate.id, frozenset({date(2026, 11, 24)}), locked)],
            nudge_after_minutes=DEFAULT_RULES.nudge_after_minutes,
            now=NOON,
        )

    after = await rows(fresh, graduate.id)
    assert after["checkin_prompt"].next_due_at == utc(2026, 11, 26, 1, 0)
    assert after["checkin_nudge"].next_due_at == utc(2026, 11, 26, 3, 0)
    assert after["checkin_prompt"].local_date == after["checkin_nudge"].local_date == date(2026, 11, 25)
    # The silence rule still looks at the day when it closes.
    assert after["day_close"].next_due_at == before["day_close"].next_due_at


async def test_quiet_hours_defer_a_reminder_and_skip_a_late_nudge(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON, checkin_time="21:00")
    await put_plan(
        fresh,
        graduate.id,
        {
            "therapy": [
                {
                    "id": "t1",
                    "kind": "individual",
                    "provider": "Dr. A",
                    "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2026-11-25T09:00"},
                    "reminder_minutes_before": [120],
                }
            ]
        },
        now=NOON,
    )

    planned = await rows(fresh, graduate.id)

    # 07:00 is quiet until 08:00, an hour before the session: deferred.
    reminder = planned["therapy_reminder:t1:120"]
    assert reminder.planned_at == utc(2026, 11, 25, 13, 0)
    assert (reminder.next_due_at, reminder.status) == (utc(2026, 11, 25, 14, 0), "planned")
    assert reminder.deadline == utc(2026, 11, 25, 15, 0)
    # 23:00 is quiet until after the day ends: recorded as skipped at its planned time.
    nudge = planned["checkin_nudge"]
    assert (nudge.next_due_at, nudge.status) == (utc(2026, 11, 25, 5, 0), "skipped_quiet_hours")


async def test_a_plan_change_replans_reminders(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    therapy = {
        "id": "t1",
        "kind": "group",
        "provider": "Clinic",
        "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=TH", "start_local": "2026-11-26T18:00"},
        "reminder_minutes_before": [60, 1440],
    }
    await put_plan(fresh, graduate.id, {"therapy": [therapy]}, now=NOON)
    first = await rows(fresh, graduate.id)
    assert first["therapy_reminder:t1:1440"].next_due_at == utc(2026, 11, 26, 0, 0)
    assert first["therapy_reminder:t1:60"].next_due_at == utc(2026, 11, 26, 23, 0)

    therapy = {
        **therapy,
        "reminder_minutes_before": [60],
        "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=TH", "start_local": "2026-11-26T17:00"},
    }
    medication = {
        "id": "m1",
        "name": "Naltrexone",
        "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-11-24T08:00"},
        "remind": True,
    }
    await put_plan(fresh, graduate.id, {"therapy": [therapy], "medications": [medication]}, now=NOON)

    second = await rows(fresh, graduate.id)
    assert set(second) == {
        "checkin_prompt",
        "checkin_nudge",
        "day_close",
        "therapy_reminder:t1:60",
        "medication_reminder:m1:0",
    }
    assert second["therapy_reminder:t1:60"].next_due_at == utc(2026, 11, 26, 22, 0)
    assert second["therapy_reminder:t1:60"].id == first["therapy_reminder:t1:60"].id  # updated in place
    # Doses keep their time (08:00 is not quiet here anyway) and never name the medication.
    dose = second["medication_reminder:m1:0"]
    assert dose.next_due_at == utc(2026, 11, 25, 14, 0)
    assert "Naltrexone" not in dose.title


async def test_discharge_removes_every_row(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)

    await change_graduate(fresh, graduate.id, now=NOON, status="discharged")

    assert await rows(fresh, graduate.id) == {}
