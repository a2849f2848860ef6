"""Response targets through the API, with a fixed clock: every alert carries ``respond_by`` and
``overdue``, the feed filters by ``?overdue=``, escalation fires when the target is missed and not
before, a raise or re-open restarts the clock, and an old rules body is still taken.

T0 (conftest) is Tuesday 2026-11-24 18:00Z, 12:00 in Chicago, the program's default zone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from aftercare.flows.sweep import close_day, escalate_due_alerts
from aftercare.program.models import ProgramRulesRow
from aftercare.program.service import PROGRAM_ROW_ID, current_rules
from tests.checkins.conftest import Cast
from tests.conftest import T0

TODAY = date(2026, 11, 24)


def at(text: str) -> str:
    """An instant as the API writes it."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one(alerts: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    (alert,) = [a for a in alerts if a["rule"] == rule]
    return alert


async def put_rules(cast: Cast, change: dict[str, Any]) -> Any:
    """PUT the current rules with ``change`` merged in at the top level."""
    client = cast.program.client
    current = await client.get("/v1/program/rules", headers=cast.supervisor.headers)
    body = {**current.json(), **change}
    return await client.put(
        "/v1/program/rules",
        headers={**cast.supervisor.headers, "If-Match": current.headers["etag"]},
        json=body,
    )


@pytest.fixture
async def restore_rules(cast: Cast) -> AsyncIterator[None]:
    """The program's rules are one row shared by every test: put the defaults back afterwards."""
    yield
    response = await put_rules(
        cast,
        {
            "program": {"timezone": "America/Chicago"},
            "response_targets": {},
            "escalation": {"max_level": 2},
        },
    )
    assert response.status_code == 200, response.text


async def test_every_alert_carries_respond_by_per_severity(cast: Cast) -> None:
    response = await cast.submit(TODAY, used=True, safety_concern=True)
    assert response.status_code == 201, response.text
    alerts = await cast.alerts()
    critical, high = one(alerts, "safety"), one(alerts, "lapse")
    assert critical["severity"] == "critical" and critical["respond_by"] == at("2026-11-24T18:15:00Z")
    assert high["severity"] == "high" and high["respond_by"] == at("2026-11-24T22:00:00Z")
    assert critical["overdue"] is False and high["overdue"] is False

    # A warning (silence, two missed days) whose window closes on a Saturday morning is due at the
    # end of Monday, in Chicago: 2026-11-30 17:00 CST.
    factory = cast.program.app.state.session_factory
    saturday = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    for offset in (1, 2):
        async with factory() as session, session.begin():
            await close_day(
                session,
                rules=await current_rules(session),
                graduate_id=cast.gid,
                local_date=TODAY + timedelta(days=offset),
                now=saturday,
            )
    warning = one(await cast.alerts(), "silence")
    assert warning["severity"] == "warning"
    assert warning["respond_by"] == at("2026-11-30T17:00:00-06:00")


async def test_overdue_filter_at_a_fixed_clock(cast: Cast) -> None:
    clock = cast.program.clock
    await cast.submit(TODAY, used=True, safety_concern=True)
    safety = one(await cast.alerts(), "safety")

    clock.set(T0 + timedelta(minutes=15))  # at respond_by: due now, not yet overdue
    assert [a["rule"] for a in await cast.alerts(overdue="true")] == []
    assert one(await cast.alerts(), "safety")["overdue"] is False

    clock.set(T0 + timedelta(minutes=16))
    overdue = await cast.alerts(overdue="true")
    assert [a["id"] for a in overdue] == [safety["id"]] and overdue[0]["overdue"] is True
    others = await cast.alerts(overdue="false")
    assert safety["id"] not in [a["id"] for a in others]
    assert "lapse" in [a["rule"] for a in others]
    assert all(a["overdue"] is False for a in others)
    # With the other filters: overdue and at least critical; overdue and acknowledged is nothing.
    assert [a["id"] for a in await cast.alerts(overdue="true", min_severity="critical")] == [safety["id"]]
    assert await cast.alerts(overdue="true", status="acknowledged") == []
    # The supervisor's feed filters the same way.
    by_supervisor = await cast.alerts(by=cast.supervisor, overdue="true")
    assert [a["id"] for a in by_supervisor] == [safety["id"]]

    # Acknowledged: answered, so no longer overdue, though its respond_by stays as the record.
    acknowledged = await cast.program.client.post(
        f"/v1/alerts/{safety['id']}/acknowledge", headers=cast.counselor.headers
    )
    assert acknowledged.status_code == 200
    assert acknowledged.json()["overdue"] is False
    assert acknowledged.json()["respond_by"] == safety["respond_by"]
    assert await cast.alerts(overdue="true") == []

    clock.set(T0 + timedelta(hours=5))  # the high lapse alert is past its 4 hours now
    assert [a["rule"] for a in await cast.alerts(overdue="true")] == ["lapse"]


async def test_a_bad_overdue_value_is_a_422_naming_it(cast: Cast) -> None:
    response = await cast.program.client.get(
        "/v1/alerts", headers=cast.counselor.headers, params={"overdue": "maybe"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["overdue"]


async def test_escalation_fires_at_the_target_and_each_level_waits_it_again(cast: Cast) -> None:
    factory = cast.program.app.state.session_factory
    await cast.submit(TODAY, safety_concern=True)
    safety = one(await cast.alerts(), "safety")
    respond_by = T0 + timedelta(minutes=15)

    await escalate_due_alerts(factory, now=respond_by - timedelta(seconds=1))
    assert one(await cast.alerts(), "safety")["escalation_level"] == 0
    await escalate_due_alerts(factory, now=respond_by)
    escalated = one(await cast.alerts(), "safety")
    # No on-call rota: that level is skipped at once, and the supervisors' level (2) has it.
    assert escalated["escalation_level"] == 2 and escalated["escalated_at"] == at(respond_by.isoformat())
    # The target does not move with escalation: the counselor's answer was due then.
    assert escalated["respond_by"] == safety["respond_by"]
    await escalate_due_alerts(factory, now=respond_by + timedelta(minutes=14, seconds=59))
    assert one(await cast.alerts(), "safety")["escalation_level"] == 2
    # The supervisors' level waits the target again; then a critical alert starts the policy again.
    await escalate_due_alerts(factory, now=respond_by + timedelta(minutes=15))
    again = one(await cast.alerts(), "safety")
    assert (again["escalation_level"], again["escalation_round"]) == (0, 1)


async def test_a_warning_escalates_after_one_business_day_then_another(cast: Cast) -> None:
    factory = cast.program.app.state.session_factory
    await cast.submit(TODAY)
    saturday = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    for offset in (1, 2):
        async with factory() as session, session.begin():
            await close_day(
                session,
                rules=await current_rules(session),
                graduate_id=cast.gid,
                local_date=TODAY + timedelta(days=offset),
                now=saturday,
            )
    monday_close = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 17:00 CST
    await escalate_due_alerts(factory, now=monday_close - timedelta(minutes=1))
    assert one(await cast.alerts(), "silence")["escalation_level"] == 0
    await escalate_due_alerts(factory, now=monday_close)
    escalated = one(await cast.alerts(), "silence")
    assert escalated["escalation_level"] == 2  # the on-call level (no rota) skipped at once
    # A warning does not start again: the last level holds, looked at again each business day.
    await escalate_due_alerts(factory, now=monday_close + timedelta(days=1))
    held = one(await cast.alerts(), "silence")
    assert (held["escalation_level"], held["escalation_round"]) == (2, 0)
    assert held["escalated_at"] == escalated["escalated_at"]


async def test_a_re_open_restarts_the_clock(cast: Cast) -> None:
    clock = cast.program.clock
    url = f"/v1/graduates/{cast.gid}/help"
    first = await cast.program.client.post(
        url, headers=cast.graduate.headers, json={"client_id": str(uuid.uuid4())}
    )
    alert_id = first.json()["alert_id"]
    clock.advance(minutes=5)
    await cast.program.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=cast.counselor.headers)
    clock.set(T0 + timedelta(minutes=30))
    again = await cast.program.client.post(
        url, headers=cast.graduate.headers, json={"client_id": str(uuid.uuid4())}
    )
    assert again.status_code == 201 and again.json()["alert_id"] == alert_id
    alert = one(await cast.alerts(), "safety")
    assert alert["status"] == "open" and alert["respond_by"] == at("2026-11-24T18:45:00Z")
    assert alert["overdue"] is False
    clock.set(T0 + timedelta(minutes=46))
    assert one(await cast.alerts(overdue="true"), "safety")["id"] == alert_id


async def test_a_raise_restarts_the_clock_at_the_new_severity(cast: Cast) -> None:
    clock = cast.program.clock
    await cast.submit(TODAY, used=True)
    assert one(await cast.alerts(), "lapse")["respond_by"] == at("2026-11-24T22:00:00Z")
    clock.advance(days=1)
    await cast.submit(TODAY + timedelta(days=1), used=True)  # a second lapse within 14 days: critical
    lapse = one(await cast.alerts(), "lapse")
    assert lapse["severity"] == "critical"
    assert lapse["respond_by"] == at("2026-11-25T18:15:00Z")


async def test_the_targets_drive_respond_by_and_escalation(cast: Cast, restore_rules: None) -> None:
    changed = await put_rules(cast, {"response_targets": {"critical": {"minutes": 5}}})
    assert changed.status_code == 200, changed.text
    await cast.submit(TODAY, safety_concern=True)
    assert one(await cast.alerts(), "safety")["respond_by"] == at("2026-11-24T18:05:00Z")
    factory = cast.program.app.state.session_factory
    await escalate_due_alerts(factory, now=T0 + timedelta(minutes=5))
    assert one(await cast.alerts(), "safety")["escalation_level"] == 2


async def test_an_old_rules_body_is_accepted_and_read_as_targets(cast: Cast, restore_rules: None) -> None:
    client = cast.program.client
    current = await client.get("/v1/program/rules", headers=cast.supervisor.headers)
    old = {key: value for key, value in current.json().items() if key not in ("program", "response_targets")}
    old["escalation"] = {"critical_minutes": 10, "high_minutes": 240, "warning_minutes": 1440, "max_level": 3}
    saved = await client.put(
        "/v1/program/rules",
        headers={**cast.supervisor.headers, "If-Match": current.headers["etag"]},
        json=old,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    # max_level 3: the default levels, a critical alert starting again twice.
    assert body["escalation"] == {
        "levels": [{"target": "assigned"}, {"target": "on_call"}, {"target": "supervisors"}],
        "critical_repeats": 2,
    }
    assert body["response_targets"] == {
        "critical": {"minutes": 10},
        "high": {"minutes": 240},
        "warning": {"business_days": 1},
    }
    assert (await client.get("/v1/program/rules", headers=cast.counselor.headers)).json() == body
    await cast.submit(TODAY, safety_concern=True)
    assert one(await cast.alerts(), "safety")["respond_by"] == at("2026-11-24T18:10:00Z")


async def test_a_stored_row_in_the_old_shape_still_reads(cast: Cast, restore_rules: None) -> None:
    # As a row saved before response targets looks: every field spelled out, the old defaults too.
    saved = await put_rules(cast, {})
    assert saved.status_code == 200
    old_body = {
        key: value
        for key, value in saved.json().items()
        if key not in ("version", "program", "response_targets")
    }
    old_body["escalation"] = {
        "critical_minutes": 20,
        "high_minutes": 240,
        "warning_minutes": 1440,
        "max_level": 2,
    }
    async with cast.program.app.state.session_factory() as session, session.begin():
        await session.execute(
            update(ProgramRulesRow).where(ProgramRulesRow.id == PROGRAM_ROW_ID).values(body=old_body)
        )
    rules = await cast.program.client.get("/v1/program/rules", headers=cast.counselor.headers)
    assert rules.json()["response_targets"]["critical"] == {"minutes": 20}
    assert rules.json()["response_targets"]["warning"] == {"business_days": 1}
    # The check-in path reads the row its own way (decoded from its text, cached): the same answer.
    await cast.submit(TODAY, safety_concern=True)
    assert one(await cast.alerts(), "safety")["respond_by"] == at("2026-11-24T18:20:00Z")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"program": {"timezone": "Mars/Olympus"}}, "program.timezone", "unknown time zone"),
        (
            {"program": {"business_hours": {"start": "17:00", "end": "09:00"}}},
            "program.business_hours",
            "end must be after start",
        ),
        (
            {"program": {"business_hours": {"start": "09:00", "end": "09:00"}}},
            "program.business_hours",
            "end must be after start",
        ),
        ({"response_targets": {"critical": {"minutes": 0}}}, "response_targets.critical.minutes", ">= 1"),
        ({"response_targets": {"high": {"minutes": -30}}}, "response_targets.high.minutes", ">= 1"),
        (
            {"response_targets": {"warning": {"business_days": 0}}},
            "response_targets.warning.business_days",
            ">= 1",
        ),
        ({"response_targets": {"warning": {}}}, "response_targets.warning", "exactly one"),
    ],
)
async def test_bad_settings_and_targets_are_422_naming_the_field(
    cast: Cast, change: dict[str, Any], field: str, words: str
) -> None:
    response = await put_rules(cast, change)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert words in problem["errors"][0]["message"]
