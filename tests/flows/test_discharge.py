"""Discharge that means something: on the local discharge date the sweep discharges the graduate
(at the close of the day before, across DST days, once with two sweepers), or staff do it at once;
prompts stop, non-critical alerts are resolved with a system note, check-ins and amendments are a
409, and "help now" still raises a critical alert routed as any other. Re-admission re-plans."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from aftercare.alerts.models import AlertEvent
from aftercare.alerts.service import DISCHARGE_NOTE
from aftercare.audit.models import AuditEvent
from aftercare.checkins.models import MissedDay
from aftercare.flows.sweep import close_day, escalate_due_alerts, sweep
from aftercare.graduates.models import Graduate
from aftercare.program.service import current_rules
from aftercare.scheduling.models import Schedule
from tests.checkins.conftest import Cast, checkin_body
from tests.scheduling.conftest import Factory, add_graduate, change_graduate, inbox, rows

TODAY = date(2026, 11, 24)  # T0 (12:00 CST)
DISCHARGED = "/problems/discharged"


async def _sweep_until(factory: Factory, end: datetime) -> None:
    """Sweep at each instant a row falls due up to ``end``, as a worker waking on time would."""
    while True:
        async with factory() as session:
            due = await session.scalar(select(func.min(Schedule.next_due_at)))
        if due is None or due > end:
            return
        await sweep(factory, now=due, worker_id="w1")


async def _status(factory: Factory, graduate_id: uuid.UUID) -> str:
    async with factory() as session:
        status = await session.scalar(select(Graduate.status).where(Graduate.id == graduate_id))
    assert status is not None
    return status


async def _events(factory: Factory, alert_id: str) -> list[tuple[str, uuid.UUID | None]]:
    """The alert's lifecycle events; who was notified how is the coverage tests' (tests/alerts)."""
    async with factory() as session:
        found = await session.execute(
            select(AlertEvent.kind, AlertEvent.actor_id)
            .where(
                AlertEvent.alert_id == uuid.UUID(alert_id), AlertEvent.kind.not_in(("notified", "skipped"))
            )
            .order_by(AlertEvent.id)
        )
        return [(row.kind, row.actor_id) for row in found]


def _problem(response: Any, status: int, type_: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == type_


async def test_on_its_date_the_sweep_discharges(
    fresh: Factory, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    client, clock = cast.program.client, cast.program.clock
    counselor = cast.counselor.headers
    patched = await client.patch(
        f"/v1/graduates/{cast.gid}",
        headers=counselor,
        json={"discharge_date": "2026-11-27", "display_name": "Zelda Quist"},
    )
    assert patched.status_code == 200 and patched.json()["status"] == "active"
    first = await cast.submit(TODAY, used=True, safety_concern=True)  # a lapse (high), safety (critical)
    assert first.status_code == 201
    alerts = {a["rule"]: a for a in await cast.alerts()}
    assert set(alerts) == {"lapse", "safety"}
    acknowledged = await client.post(f"/v1/alerts/{alerts['safety']['id']}/acknowledge", headers=counselor)
    assert acknowledged.status_code == 200

    # The 27th starts at 06:00 UTC (CST): the close of the 26th. Just before it, nothing changes.
    start = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    clock.advance(days=3)
    caplog.set_level(logging.DEBUG, logger="aftercare")
    await _sweep_until(fresh, start - timedelta(microseconds=1))
    assert await _status(fresh, cast.gid) == "active"
    prompts_before = [n for n in await inbox(fresh, cast.graduate.user_id) if n.kind == "checkin_prompt"]
    # The 24th had its check-in before its prompt was due.
    assert [n.url for n in prompts_before] == ["/checkin/2026-11-25", "/checkin/2026-11-26"]

    report = await sweep(fresh, now=start, worker_id="w1")

    assert (report.closed_days, report.discharged) == (1, 1)
    assert await _status(fresh, cast.gid) == "discharged"
    async with fresh() as session:
        assert await session.get(MissedDay, (cast.gid, date(2026, 11, 26))) is not None  # closed first
    assert await rows(fresh, cast.gid) == {}  # prompts, nudges and day closes stop
    await _sweep_until(fresh, start + timedelta(days=3))
    prompts_after = [n for n in await inbox(fresh, cast.graduate.user_id) if n.kind == "checkin_prompt"]
    assert [n.id for n in prompts_after] == [n.id for n in prompts_before]

    # Non-critical alerts resolved by the system with a note; the critical one stays for a counselor.
    after = {a["rule"]: a for a in await cast.alerts()}
    for rule in ("lapse", "silence"):  # silence opened at the same close (two days without)
        assert after[rule]["status"] == "resolved", rule
        assert (after[rule]["resolution_note"], after[rule]["resolved_by"]) == (DISCHARGE_NOTE, None)
        assert (await _events(fresh, after[rule]["id"]))[-1] == ("resolved", None)
    assert after["safety"]["status"] == "acknowledged"
    profile = (await client.get(f"/v1/graduates/{cast.gid}", headers=counselor)).json()
    assert (profile["status"], profile["discharge_date"]) == ("discharged", "2026-11-27")
    assert (profile["risk_level"], profile["open_alerts"]) == ("critical", 1)

    # New check-ins and amendments: 409, before anything is written.
    clock.advance(days=1)
    refused = await cast.submit(date(2026, 11, 28))
    _problem(refused, 409, DISCHARGED)
    amend = await client.patch(
        f"/v1/graduates/{cast.gid}/checkins/{first.json()['id']}",
        headers=cast.graduate.headers,
        json={"mood": 3},
    )
    _problem(amend, 409, DISCHARGED)
    history = await client.get(f"/v1/graduates/{cast.gid}/checkins", headers=counselor)
    assert [c["local_date"] for c in history.json()["items"]] == ["2026-11-24"]

    # Help now is never refused: crisis resources, and the safety alert open again for the counselor.
    help_now = await client.post(
        f"/v1/graduates/{cast.gid}/help",
        headers=cast.graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": "I'm outside the bar and can't stop shaking"},
    )
    assert help_now.status_code == 201, help_now.text
    assert help_now.json()["crisis"]["crisis_line"] and "emergency" in help_now.json()["message"]
    (safety,) = [a for a in await cast.alerts() if a["id"] == help_now.json()["alert_id"]]
    assert (safety["rule"], safety["severity"], safety["status"]) == ("safety", "critical", "open")
    pushes = [n for n in await inbox(fresh, cast.counselor.user_id) if n.ref_id == safety["id"]]
    assert pushes and pushes[-1].created_at == clock.now() and pushes[-1].urgency == "high"
    # Routed as any other: unacknowledged, it escalates by the policy (a level whose target cannot
    # be reached, such as a counselor with no device, was already passed over when it opened).
    level = safety["escalation_level"]
    clock.advance(minutes=16)
    assert await escalate_due_alerts(fresh, now=clock.now()) >= 1
    (safety,) = [a for a in await cast.alerts() if a["id"] == safety["id"]]
    assert safety["escalation_level"] > level  # on to the next level that can be reached

    # No name, note or message in a push or a log line.
    private = ("Zelda", "Quist", "outside the bar", DISCHARGE_NOTE)
    for notification in await inbox(fresh, cast.counselor.user_id):
        assert not any(text in f"{notification.title} {notification.body}" for text in private)
    assert not any(text in record.getMessage() for record in caplog.records for text in private)


@pytest.mark.parametrize(
    ("timezone", "discharge_date", "starts_at"),
    [
        (
            "America/Chicago",
            date(2026, 3, 8),
            datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
        ),  # springs forward at 02:00
        ("America/Chicago", date(2026, 3, 9), datetime(2026, 3, 9, 5, 0, tzinfo=UTC)),  # the first CDT day
        (
            "America/Chicago",
            date(2026, 11, 1),
            datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
        ),  # falls back at 02:00
        ("America/Chicago", date(2026, 11, 2), datetime(2026, 11, 2, 6, 0, tzinfo=UTC)),  # the first CST day
        (
            "America/Havana",
            date(2026, 3, 8),
            datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
        ),  # no midnight: 01:00 CDT
    ],
)
async def test_discharge_at_the_start_of_the_local_date_across_dst(
    fresh: Factory, timezone: str, discharge_date: date, starts_at: datetime
) -> None:
    enrolled = starts_at - timedelta(days=2, hours=6)
    graduate = await add_graduate(fresh, now=enrolled, timezone=timezone, quiet=None)
    await change_graduate(fresh, graduate.id, now=enrolled, discharge_date=discharge_date)

    await _sweep_until(fresh, starts_at - timedelta(microseconds=1))
    assert await _status(fresh, graduate.id) == "active"
    assert (await rows(fresh, graduate.id))["day_close"].next_due_at == starts_at

    report = await sweep(fresh, now=starts_at, worker_id="w1")

    assert report.discharged == 1
    assert await _status(fresh, graduate.id) == "discharged"
    async with fresh() as session:
        closed = await session.get(MissedDay, (graduate.id, discharge_date - timedelta(days=1)))
    assert closed is not None  # the day before closed as usual, then the discharge
    assert await rows(fresh, graduate.id) == {}


async def test_two_sweepers_discharge_once(fresh: Factory, backend: str) -> None:
    start = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    graduates = [await add_graduate(fresh, now=start - timedelta(hours=20)) for _ in range(6)]
    for graduate in graduates:
        await change_graduate(
            fresh, graduate.id, now=start - timedelta(hours=20), discharge_date=start.date()
        )

    reports = await asyncio.gather(
        sweep(fresh, now=start, worker_id="w1", limit=2),
        sweep(fresh, now=start, worker_id="w2", limit=2),
    )

    assert sum(r.discharged for r in reports) == len(graduates)
    if backend == "sqlite":
        assert sorted(r.leader for r in reports) == [False, True]  # one sweeps; the other waits
    async with fresh() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEvent.graduate_id.in_([g.id for g in graduates]), AuditEvent.actor_role == "system"
            )
        )
    assert audited == len(graduates)
    for graduate in graduates:
        assert await _status(fresh, graduate.id) == "discharged"


async def test_staff_discharge_at_once_and_readmit(fresh: Factory, cast: Cast) -> None:
    client, clock = cast.program.client, cast.program.clock
    url, counselor = f"/v1/graduates/{cast.gid}", cast.counselor.headers
    assert (await cast.submit(TODAY, used=True)).status_code == 201  # a lapse: high
    assert {r for r in await rows(fresh, cast.gid)} == {"checkin_prompt", "checkin_nudge", "day_close"}

    discharged = await client.patch(url, headers=counselor, json={"status": "discharged"})

    assert discharged.status_code == 200, discharged.text
    body = discharged.json()
    # The discharge date is the day it happened; the risk falls back to the latest day's assessment.
    assert (body["status"], body["discharge_date"], body["risk_level"], body["open_alerts"]) == (
        "discharged",
        "2026-11-24",
        "high",
        0,
    )
    (lapse,) = await cast.alerts()
    assert (lapse["status"], lapse["resolution_note"]) == ("resolved", DISCHARGE_NOTE)
    assert await rows(fresh, cast.gid) == {}
    again = await client.patch(url, headers=counselor, json={"status": "discharged"})
    assert again.status_code == 200 and again.json()["status"] == "discharged"
    assert [kind for kind, _ in await _events(fresh, lapse["id"])] == ["opened", "resolved"]

    # Ten days away, then back: re-planned, and silence counts from the re-admission, not across the time away.
    clock.advance(days=10)
    readmitted = await client.patch(url, headers=counselor, json={"status": "active"})
    assert readmitted.status_code == 200, readmitted.text
    assert (readmitted.json()["status"], readmitted.json()["discharge_date"]) == ("active", None)
    assert set(await rows(fresh, cast.gid)) == {"checkin_prompt", "checkin_nudge", "day_close"}
    back = TODAY + timedelta(days=10)
    for offset, silent in ((0, []), (1, ["warning"])):
        clock.advance(days=1)
        async with fresh() as session, session.begin():
            rules = await current_rules(session)
            await close_day(
                session,
                graduate_id=cast.gid,
                local_date=back + timedelta(days=offset),
                rules=rules,
                now=clock.now(),
            )
        assert [a["severity"] for a in await cast.alerts(status="open") if a["rule"] == "silence"] == silent
    assert (await cast.submit(back + timedelta(days=2))).status_code == 201


async def test_a_discharge_date_that_has_begun_discharges_at_once(cast: Cast) -> None:
    client, url = cast.program.client, f"/v1/graduates/{cast.gid}"
    today = await client.patch(
        url, headers=cast.counselor.headers, json={"discharge_date": TODAY.isoformat()}
    )
    assert today.status_code == 200 and today.json()["status"] == "discharged"
    # Re-admission clears a discharge date that has come, unless one is sent: then it must lie ahead.
    stale = await client.patch(
        url, headers=cast.counselor.headers, json={"status": "active", "discharge_date": TODAY.isoformat()}
    )
    _problem(stale, 422, "/problems/validation")
    assert [e["field"] for e in stale.json()["errors"]] == ["discharge_date"]
    ahead = await client.patch(
        url, headers=cast.counselor.headers, json={"status": "active", "discharge_date": "2026-12-24"}
    )
    assert ahead.status_code == 200 and (ahead.json()["status"], ahead.json()["discharge_date"]) == (
        "active",
        "2026-12-24",
    )


async def test_a_discharge_date_before_enrollment_is_a_422(cast: Cast) -> None:
    client = cast.program.client
    # Enrolled on the 24th (Chicago); at 18:00 UTC it is already the 25th in Auckland.
    for body in (
        {"display_name": "Lee", "timezone": "America/Chicago", "discharge_date": "2026-11-23"},
        {"display_name": "Lee", "timezone": "Pacific/Auckland", "discharge_date": "2026-11-24"},
    ):
        created = await client.post("/v1/graduates", headers=cast.counselor.headers, json=body)
        _problem(created, 422, "/problems/validation")
        assert [e["field"] for e in created.json()["errors"]] == ["discharge_date"]
    same_day = await client.post(
        "/v1/graduates",
        headers=cast.counselor.headers,
        json={"display_name": "Lee", "timezone": "America/Chicago", "discharge_date": "2026-11-24"},
    )
    assert same_day.status_code == 201 and same_day.json()["status"] == "discharged"
    patched = await client.patch(
        f"/v1/graduates/{cast.gid}", headers=cast.counselor.headers, json={"discharge_date": "2026-11-01"}
    )
    _problem(patched, 422, "/problems/validation")
    assert [e["field"] for e in patched.json()["errors"]] == ["discharge_date"]
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cast.counselor.headers)).json()[
        "discharge_date"
    ] is None  # nothing half-written


async def test_a_graduate_may_not_discharge_themselves(cast: Cast) -> None:
    response = await cast.program.client.patch(
        f"/v1/graduates/{cast.gid}", headers=cast.graduate.headers, json={"status": "discharged"}
    )
    assert response.status_code == 403 and response.json()["fields"] == ["status"]


async def test_a_replayed_checkin_still_answers_after_discharge(cast: Cast) -> None:
    body = checkin_body(TODAY)
    url = f"/v1/graduates/{cast.gid}/checkins"
    first = await cast.program.client.post(url, headers=cast.graduate.headers, json=body)
    assert first.status_code == 201
    await cast.program.client.patch(
        f"/v1/graduates/{cast.gid}", headers=cast.counselor.headers, json={"status": "discharged"}
    )
    replay = await cast.program.client.post(url, headers=cast.graduate.headers, json=body)
    assert replay.status_code == 200 and replay.json() == first.json()  # the replay check runs first
