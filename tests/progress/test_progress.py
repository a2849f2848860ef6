"""``GET /v1/graduates/{id}/progress`` on a constructed history, and its figures one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from aftercare.flows.progress import (
    DayAnswers,
    coping_most_used,
    current_streak,
    longest_streak,
    support_weeks,
)
from aftercare.plans.schemas import PlanBody
from tests.conftest import Program

TUESDAY = date(2026, 11, 24)
PLAN: dict[str, Any] = {
    "therapy": [
        {
            "id": "dr-k",
            "kind": "individual",
            "provider": "Dr K",
            "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=TU", "start_local": "2026-11-03T18:00"},
            "reminder_minutes_before": [60],
        }
    ],
    "support_groups": [
        {
            "id": "na",
            "name": "Tuesday NA",
            "fellowship": "NA",
            "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "start_local": "2026-11-02T19:00"},
            "reminder_minutes_before": [30],
        }
    ],
    "coping_skills": [
        {"id": "breathe", "name": "Box breathing"},
        {"id": "call", "name": "Call my sponsor"},
        {"id": "walk", "name": "Walk"},
    ],
}


def days_from(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def test_streaks_end_today_or_yesterday() -> None:
    checked = days_from(date(2026, 11, 2), date(2026, 11, 9)) | days_from(
        date(2026, 11, 11), date(2026, 11, 23)
    )
    assert current_streak(checked, TUESDAY) == 13  # today is still open: the run up to yesterday
    assert current_streak(checked | {TUESDAY}, TUESDAY) == 14
    assert current_streak(checked, TUESDAY + timedelta(days=1)) == 0  # yesterday went by without one
    assert longest_streak(checked) == 13
    assert longest_streak(set()) == current_streak(set(), TUESDAY) == 0


def test_support_counts_planned_days_and_the_checkins_that_attended_them() -> None:
    plan = msgspec.convert(PLAN, PlanBody)
    attended = [date(2026, 11, d) for d in (2, 3, 4, 9, 16, 17, 19, 23)]
    answers = [DayAnswers(day, True, ()) for day in attended] + [DayAnswers(date(2026, 11, 12), False, ())]
    weeks = support_weeks(plan, answers, today=TUESDAY, since=date(2026, 11, 2))
    assert [(w.week_start, w.planned, w.attended) for w in weeks] == [
        (date(2026, 11, 23), 3, 1),  # Mon 23, Tue 24, Thu 26 planned; the 23rd attended so far
        (date(2026, 11, 16), 3, 3),
        (date(2026, 11, 9), 3, 1),  # the 12th's check-in said no
        (date(2026, 11, 2), 3, 2),  # the 4th (a Wednesday) had no session planned
        (date(2026, 10, 26), 0, 0),  # before aftercare began
    ]
    # Enrollment mid-week: the days before it are not planned for this graduate.
    late = support_weeks(plan, answers, today=TUESDAY, since=date(2026, 11, 17))
    assert [(w.planned, w.attended) for w in late[:2]] == [(3, 1), (2, 2)]


def test_coping_skills_most_named_with_their_plan_names() -> None:
    plan = msgspec.convert(PLAN, PlanBody)
    answers = (
        [DayAnswers(date(2026, 11, d), None, ("breathe", "breathe")) for d in range(1, 11)]
        + [DayAnswers(date(2026, 11, d), None, ("walk",)) for d in range(11, 15)]
        + [DayAnswers(date(2026, 11, d), None, ("call", "gone")) for d in range(15, 19)]
    )
    used = coping_most_used(plan, answers)
    assert [(u.id, u.name, u.days) for u in used] == [
        ("breathe", "Box breathing", 10),  # named twice in one check-in: one day
        ("call", "Call my sponsor", 4),  # ties by id
        ("gone", None, 4),  # removed from the plan since
        ("walk", "Walk", 4),
    ]


async def test_progress_through_the_api(program: Program) -> None:
    program.clock.set(datetime(2026, 11, 2, 18, tzinfo=UTC))  # Monday the 2nd, noon in Chicago
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, timezone="America/Chicago")
    response = await program.client.put(
        f"/v1/graduates/{graduate.graduate_id}/plan", headers=counselor.headers, json=PLAN
    )
    assert response.status_code == 201, response.text
    attended = {date(2026, 11, d) for d in (2, 3, 4, 9, 16, 17, 19, 23)}
    coping = {day: ["breathe"] for day in days_from(date(2026, 11, 2), date(2026, 11, 11))}
    coping[date(2026, 11, 20)] = ["walk", "call"]
    for day in sorted(days_from(date(2026, 11, 2), date(2026, 11, 23)) - {date(2026, 11, 10)}):
        # 20:00 in Chicago: standard time all month.
        program.clock.set(datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(days=1))
        body = {
            "client_id": str(uuid.uuid4()),
            "local_date": day.isoformat(),
            "mood": 4,
            "craving": 1,
            "stress": 2,
            "used": False,
            "safety_concern": False,
            "attended_support": day in attended,
            "coping_used": coping.get(day, []),
        }
        posted = await program.client.post(
            f"/v1/graduates/{graduate.graduate_id}/checkins", headers=graduate.headers, json=body
        )
        assert posted.status_code == 201, posted.text
    program.clock.set(datetime(2026, 11, 24, 18, tzinfo=UTC))  # Tuesday noon, no check-in yet

    url = f"/v1/graduates/{graduate.graduate_id}/progress"
    mine = await program.client.get(url, headers=graduate.headers)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert (body["today"], body["aftercare_since"], body["days_since_discharge"]) == (
        "2026-11-24",
        "2026-11-02",
        22,
    )
    assert (body["checkin_streak_days"], body["longest_streak_days"], body["window_days"]) == (13, 13, 120)
    assert [(w["week_start"], w["planned"], w["attended"]) for w in body["support_weeks"]] == [
        ("2026-11-23", 3, 1),
        ("2026-11-16", 3, 3),
        ("2026-11-09", 3, 1),  # the 10th (a Tuesday) had no check-in
        ("2026-11-02", 3, 2),
        ("2026-10-26", 0, 0),
    ]
    assert body["coping_most_used"] == [
        {"id": "breathe", "name": "Box breathing", "days": 9},
        {"id": "call", "name": "Call my sponsor", "days": 1},
        {"id": "walk", "name": "Walk", "days": 1},
    ]
    reminders = await program.client.get(
        f"/v1/graduates/{graduate.graduate_id}/reminders", headers=graduate.headers
    )
    assert body["next_reminders"] == reminders.json()["items"][:3]
    assert [r["kind"] for r in body["next_reminders"]] == [
        "therapy_reminder",
        "checkin_prompt",
        "checkin_nudge",
    ]

    as_staff = await program.client.get(url, headers=counselor.headers)
    assert as_staff.status_code == 200 and as_staff.json() == body
    async with program.app.state.session_factory() as session:
        readers = list(
            await session.scalars(
                select(AuditEvent.actor_id).where(
                    AuditEvent.resource == "progress", AuditEvent.graduate_id == graduate.graduate_id
                )
            )
        )
    assert readers == [counselor.user_id]
    other = await program.staff(supervisor)
    assert (await program.client.get(url, headers=other.headers)).status_code == 404
