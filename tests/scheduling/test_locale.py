"""A Spanish-speaking graduate's pushes arrive in Spanish: titled by the pure planner in the
graduate's language, sent by the real sweeper, encrypted by the real sender, decrypted by the
loopback push service as the phone would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest

from aftercare.clock import FixedClock
from aftercare.flows.sweep import sweep
from aftercare.push.webpush import PushSender
from aftercare.scheduling.planner import GraduateSchedule, ItemKind, ScheduledItem, plan_occurrences
from tests.push.conftest import StartPushService
from tests.scheduling.conftest import Factory, add_graduate, change_graduate, inbox, put_plan, rows, subscribe

NOON = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # 12:00 CST
PROMPT_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 19:00 CST
DOSE_AT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 08:00 CST the next morning


async def test_a_spanish_graduates_daily_prompt_arrives_in_spanish(
    fresh: Factory, start_push_service: StartPushService, push_sender: PushSender
) -> None:
    push_service = await start_push_service(FixedClock(PROMPT_AT))
    graduate = await add_graduate(fresh, now=NOON)
    await change_graduate(fresh, graduate.id, now=NOON, locale="es")
    await subscribe(fresh, push_service, graduate, now=NOON)

    report = await sweep(fresh, now=PROMPT_AT, worker_id="w1", sender=push_sender)

    assert report.delivery is not None and report.delivery.delivered == 1
    [push] = await push_service.wait_for(1)
    payload = push.json()
    # The payload as the phone decrypted it, kept in the test log (pytest -s shows it).
    print("decrypted Spanish prompt:", json.dumps(payload, ensure_ascii=False))
    assert payload["type"] == "checkin_prompt"
    assert payload["title"] == "Es hora de tu registro diario"
    assert payload["body"] == "¿Cómo te fue hoy? Solo toma un minuto."
    assert payload["url"] == "/checkin/2026-11-24"
    # The inbox keeps what was sent, in the same words.
    [notification] = await inbox(fresh, graduate.user_id)
    assert (notification.title, notification.body) == (payload["title"], payload["body"])


async def test_a_medication_reminder_arrives_in_spanish_without_the_medications_name(
    fresh: Factory, start_push_service: StartPushService, push_sender: PushSender
) -> None:
    push_service = await start_push_service(FixedClock(DOSE_AT))
    graduate = await add_graduate(fresh, now=NOON)
    await change_graduate(fresh, graduate.id, now=NOON, locale="es")
    medication = {
        "id": "m1",
        "name": "Naltrexone",
        "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-11-24T08:00"},
        "remind": True,
    }
    await put_plan(fresh, graduate.id, {"medications": [medication]}, now=NOON)
    await subscribe(fresh, push_service, graduate, now=NOON)

    # Yesterday's prompt and nudge are past their day by now: only the dose is sent.
    await sweep(fresh, now=DOSE_AT, worker_id="w1", sender=push_sender)

    [push] = await push_service.wait_for(1)
    dose = push.json()
    assert dose["type"] == "medication_reminder"
    assert dose["title"] == "Es hora de tu medicación"
    assert dose["body"] == "Abre Aftercare para marcarla como tomada."
    assert "Naltrexone" not in json.dumps(dose)


async def test_a_change_of_language_re_titles_what_is_already_planned(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    therapy = {
        "id": "t1",
        "kind": "individual",
        "provider": "Dr. Lee",
        "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=TH", "start_local": "2026-11-26T18:00"},
        "reminder_minutes_before": [90],
    }
    await put_plan(fresh, graduate.id, {"therapy": [therapy]}, now=NOON)
    before = await rows(fresh, graduate.id)
    assert before["checkin_prompt"].title == "Time for your daily check-in"
    assert before["therapy_reminder:t1:90"].title == "Appointment in 1 hour 30 minutes"

    await change_graduate(fresh, graduate.id, now=NOON, locale="es")

    after = await rows(fresh, graduate.id)
    assert after["checkin_prompt"].title == "Es hora de tu registro diario"
    assert after["checkin_nudge"].title == "Tu registro de hoy sigue abierto"
    assert after["therapy_reminder:t1:90"].title == "Tu cita empieza en 1 hora y 30 minutos"
    # The same occurrences, only re-worded.
    assert {stream: row.next_due_at for stream, row in after.items()} == {
        stream: row.next_due_at for stream, row in before.items()
    }


@pytest.mark.parametrize(
    ("kind", "minutes", "english", "spanish"),
    [
        ("therapy", 0, "Appointment starting now", "Tu cita empieza ahora"),
        ("therapy", 60, "Appointment in 1 hour", "Tu cita empieza en 1 hora"),
        ("support_group", 15, "Meeting in 15 minutes", "Tu reunión empieza en 15 minutos"),
        ("support_group", 1441, "Meeting in 24 hours 1 minute", "Tu reunión empieza en 24 horas y 1 minuto"),
        ("medication", 0, "Time for your medication", "Es hora de tu medicación"),
    ],
)
def test_the_planner_titles_each_reminder_in_the_graduates_language(
    kind: ItemKind, minutes: int, english: str, spanish: str
) -> None:
    item = ScheduledItem(
        item_id="x1",
        kind=kind,
        rrule="FREQ=DAILY",
        start_local="2026-11-25T18:00",
        reminder_minutes_before=(minutes,),
    )
    titles = {}
    for locale in ("en", "es"):
        schedule = GraduateSchedule(
            timezone="America/Chicago",
            checkin_time=time(19, 0),
            quiet_hours=None,
            nudge_after_minutes=120,
            locale=locale,
        )
        found = next(
            occurrence
            for occurrence in plan_occurrences(schedule, [item], start=NOON, end=NOON + timedelta(days=3))
            if occurrence.item_id == "x1"
        )
        titles[locale] = found.title
    assert titles == {"en": english, "es": spanish}
