"""A day's doses answer an unanswered ``took_medication``: one pure rule (``rules.doses``), the same
through the API and through the backtest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from aftercare.alerts.models import Alert, AlertEvent
from aftercare.checkins.models import Checkin
from aftercare.plans.schemas import Medication, Schedule
from aftercare.rules.aggregates import CheckinFacts
from aftercare.rules.backtest import History, alert_events, parse_history, replay_graduate
from aftercare.rules.config import DEFAULT_RULES
from aftercare.rules.doses import DayDoses, day_doses, medications_due, with_doses
from aftercare.scheduling.localtime import day_bounds, zone
from tests.conftest import Program
from tests.doses.conftest import make_cast, z

DAY = date(2026, 11, 24)
MORNING = Medication(id="am", name="A", schedule=Schedule(rrule="FREQ=DAILY", start_local="2026-01-01T08:00"))
MONDAYS = Medication(
    id="mo", name="B", schedule=Schedule(rrule="FREQ=WEEKLY;BYDAY=MO", start_local="2026-01-05T21:00")
)


def facts(took_medication: bool | None = None) -> CheckinFacts:
    return CheckinFacts(local_date=DAY, mood=4, craving=2, stress=3, took_medication=took_medication)


def test_a_day_with_every_due_dose_taken_counts_as_medication_taken() -> None:
    # The 24th is a Tuesday: only the daily medication is due.
    assert medications_due([MORNING, MONDAYS], DAY) == {"am"}
    assert medications_due([MORNING, MONDAYS], DAY - timedelta(days=1)) == {"am", "mo"}
    assert with_doses(facts(), day_doses([MORNING, MONDAYS], DAY, ["am"])).took_medication is True


def test_skipped_missing_and_answered_days_are_left_as_they_are() -> None:
    monday = DAY - timedelta(days=1)
    half = day_doses([MORNING, MONDAYS], monday, ["am"])  # the Monday dose is not marked taken
    assert with_doses(facts(), half).took_medication is None
    # A skipped dose is no dose taken (day_doses is given the taken ones only): the day stays unanswered.
    assert with_doses(facts(), day_doses([MORNING], DAY, [])).took_medication is None
    # The graduate's own answer stands, whatever the doses say.
    assert with_doses(facts(False), day_doses([MORNING], DAY, ["am"])).took_medication is False
    # A day with no dose due says nothing.
    assert with_doses(facts(), DayDoses()).took_medication is None
    assert day_doses([MONDAYS], DAY, ["mo"]) == DayDoses()


# A fortnight in Chicago (after the fall-back night): the morning dose marked taken on the first eleven
# days, the sixth one only after that day's check-in (21:00, two hours late); ``took_medication``
# left unanswered, then "no" on the last three days.
START = date(2026, 11, 2)
DAYS = 14
PLAN: dict[str, Any] = {
    "medications": [
        {
            "id": "med-am",
            "name": "Naltrexone",
            "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-01-01T08:00"},
        }
    ]
}
LATE_DOSE_DAY = 5


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def history_line(*, with_doses: bool) -> dict[str, Any]:
    checkins, doses = [], []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        checkins.append(
            {
                "local_date": day.isoformat(),
                "mood": 4,
                "craving": 2,
                "stress": 3,
                "used": False,
                "safety_concern": False,
                "took_medication": False if i >= 11 else None,
                "received_at": z(_utc(day + timedelta(days=1), 1)),  # 19:00 CST
            }
        )
        if with_doses and i < 11:
            received = _utc(day + timedelta(days=1), 3) if i == LATE_DOSE_DAY else _utc(day, 14, 5)
            doses.append(
                {
                    "medication_id": "med-am",
                    "scheduled_for": z(_utc(day, 14)),
                    "status": "taken",
                    "received_at": z(received),
                }
            )
    return {
        "graduate": "g",
        "timezone": "America/Chicago",
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=DAYS - 1)).isoformat(),
        "plan": PLAN,
        "checkins": checkins,
        "doses": doses,
    }


def backtest_events(line: dict[str, Any]) -> list[tuple[date, str, str, str]]:
    history = parse_history(json.dumps(line), where="cohort:1", seen=set())
    assert isinstance(history, History), history
    events = alert_events("g", replay_graduate(history, DEFAULT_RULES, resolve_after_days=2))
    return [(e.local_date, e.rule, e.severity, e.event) for e in events]


def test_the_backtest_reads_doses_and_refuses_bad_ones() -> None:
    assert backtest_events(history_line(with_doses=True)) == [
        (date(2026, 11, 14), "medication_missed", "warning", "opened")
    ]
    # Without the doses the unanswered days are no evidence of a habit, and two "no"s are not rare.
    assert backtest_events(history_line(with_doses=False)) == []
    bad = history_line(with_doses=True)
    bad["doses"] += [
        {"medication_id": "aspirin", "scheduled_for": z(_utc(START, 14)), "status": "taken"},
        {"medication_id": "med-am", "scheduled_for": z(_utc(START, 15)), "status": "taken"},
        {"medication_id": "med-am", "scheduled_for": z(_utc(START, 14)), "status": "skipped"},
        {
            "medication_id": "med-am",
            "scheduled_for": z(_utc(START + timedelta(days=12), 14)),
            "status": "taken",
            "received_at": z(_utc(START + timedelta(days=14), 14)),
        },
        {"medication_id": "med-am", "scheduled_for": "9999-12-31T23:59:59Z", "status": "taken"},
    ]
    assert parse_history(json.dumps(bad), where="cohort:1", seen=set()) == [
        "cohort:1: doses[11].medication_id: unknown id 'aspirin': not a medication of the plan",
        "cohort:1: doses[12].scheduled_for: not a dose of this medication's schedule",
        "cohort:1: doses[13].scheduled_for: a second record of this dose (doses[0])",
        "cohort:1: doses[14].received_at: outside the dose's local day and the next",
        "cohort:1: doses[15].scheduled_for: must lie between the years 1900 and 9000",
    ]


async def test_the_api_gives_the_backtests_alerts(program: Program) -> None:
    """The same fortnight through the app: each dose POSTed when it arrives, each check-in at 19:00."""
    tz = zone("America/Chicago")
    program.clock.set(day_bounds(START, tz)[0])
    cast = await make_cast(program, plan=PLAN)
    line = history_line(with_doses=True)
    arrivals: list[tuple[str, dict[str, Any]]] = [("dose", d) for d in line["doses"]] + [
        ("checkin", c) for c in line["checkins"]
    ]
    arrivals.sort(key=lambda item: item[1]["received_at"])
    for kind, record in arrivals:
        program.clock.set(datetime.fromisoformat(record["received_at"]))
        if kind == "dose":
            response = await cast.dose("med-am", datetime.fromisoformat(record["scheduled_for"]))
        else:
            answers = {k: v for k, v in record.items() if k not in ("local_date", "received_at")}
            response = await cast.checkin(date.fromisoformat(record["local_date"]), **answers)
        assert response.status_code == 201, response.text

    async with program.app.state.session_factory() as session:
        stored = (
            await session.execute(
                select(Checkin.local_date, AlertEvent.kind, AlertEvent.severity, Alert.rule)
                .join(Alert, Alert.id == AlertEvent.alert_id)
                .join(Checkin, Checkin.id == AlertEvent.checkin_id)
                .where(AlertEvent.graduate_id == cast.gid, AlertEvent.kind.in_(("opened", "raised")))
                .order_by(AlertEvent.id)
            )
        ).all()
        filled = dict(
            (
                await session.execute(
                    select(Checkin.local_date, Checkin.took_medication_from_doses).where(
                        Checkin.graduate_id == cast.gid
                    )
                )
            ).all()
        )
    assert [(r.local_date, r.rule, r.severity, r.kind) for r in stored] == backtest_events(line)
    assert stored, "the history must open an alert for the comparison to mean something"
    # Filled in where every dose came first; the late dose's day and the answered days stay as given.
    assert filled == {START + timedelta(days=i): i < 11 and i != LATE_DOSE_DAY for i in range(DAYS)}


async def test_a_dose_after_the_checkin_counts_only_once_the_checkin_is_amended(program: Program) -> None:
    cast = await make_cast(program)  # two medications a day: 08:00 and 21:00 (tests.doses.conftest)

    async def day_after_amending(day: date, evening: str) -> tuple[bool, bool, Any]:
        """Check in (noon), then mark the day's doses (the evening one ``evening``), then amend."""

        async def filled() -> bool:
            async with program.app.state.session_factory() as session:
                return bool(
                    await session.scalar(
                        select(Checkin.took_medication_from_doses).where(
                            Checkin.graduate_id == cast.gid, Checkin.local_date == day
                        )
                    )
                )

        checkin = await cast.checkin(day)
        assert checkin.status_code == 201, checkin.text
        before = await filled()
        assert (await cast.dose("med-am", _utc(day, 14))).status_code == 201
        assert (
            await cast.dose("med-pm", _utc(day + timedelta(days=1), 3), status=evening)
        ).status_code == 201
        url = f"/v1/graduates/{cast.gid}/checkins/{checkin.json()['id']}"
        amended = await cast.client.patch(url, headers=cast.graduate.headers, json={"mood": 3})
        assert amended.status_code == 200, amended.text
        return before, await filled(), amended.json()["took_medication"]

    # Both doses taken after the check-in: the day is not judged again until the amendment reads them.
    assert await day_after_amending(date(2026, 11, 24), "taken") == (False, True, None)
    # The evening dose skipped: not every dose was taken, so the day stays unanswered.
    program.clock.advance(days=1)
    assert await day_after_amending(date(2026, 11, 25), "skipped") == (False, False, None)
