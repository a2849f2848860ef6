"""Alerts through the API and the sweeper's escalation step: acknowledge, resolve, escalate,
help now, silence."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from aftercare.alerts.models import AlertEvent
from aftercare.alerts.stream import read_events
from aftercare.checkins.models import HelpRequest
from aftercare.flows.sweep import close_day, escalate_due_alerts
from aftercare.program.service import current_rules
from tests.checkins.conftest import Cast

TODAY = date(2026, 11, 24)


async def _events(cast: Cast, alert_id: str) -> list[tuple[str, int]]:
    async with cast.program.app.state.session_factory() as session:
        rows = await session.execute(
            select(AlertEvent.kind, AlertEvent.escalation_level)
            # The alert's lifecycle; its notification decisions have tests of their own.
            .where(
                AlertEvent.alert_id == uuid.UUID(alert_id), AlertEvent.kind.not_in(("notified", "skipped"))
            )
            .order_by(AlertEvent.id)
        )
        return [(r.kind, r.escalation_level) for r in rows]


async def test_acknowledge_is_idempotent_and_resolve_twice_conflicts(cast: Cast) -> None:
    await cast.submit(TODAY, used=True)
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    url = f"/v1/alerts/{alert['id']}"
    first = await cast.program.client.post(f"{url}/acknowledge", headers=cast.counselor.headers)
    assert first.status_code == 200 and first.json()["status"] == "acknowledged"
    again = await cast.program.client.post(f"{url}/acknowledge", headers=cast.counselor.headers)
    assert again.status_code == 200 and again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    resolved = await cast.program.client.post(
        f"{url}/resolve", headers=cast.counselor.headers, json={"note": "Called; back at meetings."}
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    twice = await cast.program.client.post(
        f"{url}/resolve", headers=cast.counselor.headers, json={"note": "x"}
    )
    assert twice.status_code == 409
    assert [k for k, _ in await _events(cast, alert["id"])] == ["opened", "acknowledged", "resolved"]


async def test_another_counselor_gets_404_on_the_alert(cast: Cast) -> None:
    await cast.submit(TODAY, used=True)
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    stranger = await cast.program.staff(cast.supervisor)
    response = await cast.program.client.post(
        f"/v1/alerts/{alert['id']}/acknowledge", headers=stranger.headers
    )
    assert response.status_code == 404


async def test_unacknowledged_alert_walks_the_policy_repeats_once_then_holds(cast: Cast) -> None:
    # The default policy: the counselor, the on-call (no rota here: skipped at once), the supervisors;
    # a critical alert starts again once. Nobody here has a device: each level's people have it in
    # their inbox, and the alert waits at the first level where someone does.
    clock = cast.program.clock
    factory = cast.program.app.state.session_factory
    await cast.submit(TODAY, safety_concern=True)
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "safety"]
    clock.advance(minutes=14)
    await escalate_due_alerts(factory, now=clock.now())
    assert (await cast.alerts())[0]["escalation_level"] == 0
    clock.advance(minutes=2)
    await escalate_due_alerts(factory, now=clock.now())
    steps = [("escalated", 1), ("escalated", 2)]
    assert [e for e in await _events(cast, alert["id"]) if e[0] != "opened"] == steps
    clock.advance(minutes=16)
    await escalate_due_alerts(factory, now=clock.now())
    clock.advance(minutes=16)
    await escalate_due_alerts(factory, now=clock.now())
    steps += [("repeated", 0), ("escalated", 1), ("escalated", 2)]
    assert [e for e in await _events(cast, alert["id"]) if e[0] != "opened"] == steps
    (after,) = [a for a in await cast.alerts() if a["id"] == alert["id"]]
    assert (after["escalation_level"], after["escalation_round"]) == (2, 1)
    # Then the last level holds: looked at again each wait, nothing new while nobody can be reached.
    clock.advance(hours=5)
    await escalate_due_alerts(factory, now=clock.now())
    assert [e for e in await _events(cast, alert["id"]) if e[0] != "opened"] == steps


async def test_acknowledged_alert_does_not_escalate(cast: Cast) -> None:
    clock = cast.program.clock
    await cast.submit(TODAY, safety_concern=True)
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "safety"]
    await cast.program.client.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=cast.counselor.headers)
    clock.advance(hours=2)
    await escalate_due_alerts(cast.program.app.state.session_factory, now=clock.now())
    (after,) = [a for a in await cast.alerts() if a["id"] == alert["id"]]
    assert after["escalation_level"] == 0 and after["status"] == "acknowledged"


async def test_help_now_reopens_an_acknowledged_safety_alert(cast: Cast) -> None:
    url = f"/v1/graduates/{cast.gid}/help"
    first = await cast.program.client.post(
        url, headers=cast.graduate.headers, json={"client_id": "0192f6a0-0000-7000-8000-000000000001"}
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["crisis"]["crisis_line"] == "988" and "emergency" in body["message"]
    alert_id = body["alert_id"]
    await cast.program.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=cast.counselor.headers)
    replay = await cast.program.client.post(
        url, headers=cast.graduate.headers, json={"client_id": "0192f6a0-0000-7000-8000-000000000001"}
    )
    assert replay.status_code == 200 and replay.json() == body
    cast.program.clock.advance(minutes=30)
    second = await cast.program.client.post(
        url,
        headers=cast.graduate.headers,
        json={"client_id": "0192f6a0-0000-7000-8000-000000000002", "message": "again"},
    )
    assert second.status_code == 201 and second.json()["alert_id"] == alert_id
    (alert,) = [a for a in await cast.alerts() if a["id"] == alert_id]
    assert alert["status"] == "open" and alert["acknowledged_at"] is None and alert["escalation_level"] == 0
    assert [k for k, _ in await _events(cast, alert_id)] == ["opened", "acknowledged", "reopened"]


async def test_silence_opens_at_two_days_and_raises_at_four(cast: Cast) -> None:
    clock = cast.program.clock
    factory = cast.program.app.state.session_factory
    assert (await cast.submit(TODAY)).status_code == 201
    for offset in range(1, 5):
        clock.advance(days=1)
        async with factory() as session, session.begin():
            await close_day(
                session,
                rules=await current_rules(session),
                graduate_id=cast.gid,
                local_date=TODAY + timedelta(days=offset),
                now=clock.now(),
            )
        silence = [a for a in await cast.alerts() if a["rule"] == "silence"]
        if offset == 1:
            assert silence == []
        elif offset in (2, 3):
            assert [a["severity"] for a in silence] == ["warning"]
        else:
            assert [a["severity"] for a in silence] == ["high"]


async def test_program_rules_need_if_match_and_reject_unknown_fields(cast: Cast) -> None:
    client = cast.program.client
    current = await client.get("/v1/program/rules", headers=cast.counselor.headers)
    assert current.status_code == 200
    etag = current.headers["etag"]
    body = current.json()
    as_counselor = await client.put(
        "/v1/program/rules", headers={**cast.counselor.headers, "If-Match": etag}, json=body
    )
    assert as_counselor.status_code == 403
    missing = await client.put("/v1/program/rules", headers=cast.supervisor.headers, json=body)
    assert missing.status_code == 428
    unknown = await client.put(
        "/v1/program/rules",
        headers={**cast.supervisor.headers, "If-Match": etag},
        json={**body, "rules": {**body["rules"], "astrology": {"enabled": True}}},
    )
    assert unknown.status_code == 422
    body["response_targets"]["critical"] = {"minutes": 10}
    saved = await client.put(
        "/v1/program/rules", headers={**cast.supervisor.headers, "If-Match": etag}, json=body
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["response_targets"]["critical"] == {"minutes": 10}
    stale = await client.put(
        "/v1/program/rules", headers={**cast.supervisor.headers, "If-Match": etag}, json=body
    )
    assert stale.status_code == 412
    # The program's rules are one shared row: put the defaults back for the tests that follow.
    body["response_targets"]["critical"] = {"minutes": 15}
    restored = await client.put(
        "/v1/program/rules", headers={**cast.supervisor.headers, "If-Match": saved.headers["etag"]}, json=body
    )
    assert restored.status_code == 200


async def test_reassignment_moves_the_alerts_to_the_new_counselor(cast: Cast) -> None:
    await cast.submit(TODAY, used=True)
    newcomer = await cast.program.staff(cast.supervisor)
    moved = await cast.program.client.patch(
        f"/v1/graduates/{cast.gid}",
        headers=cast.supervisor.headers,
        json={"counselor_id": str(newcomer.user_id)},
    )
    assert moved.status_code == 200, moved.text
    assert await cast.alerts() == []
    assert [a["rule"] for a in await cast.alerts(by=newcomer)] == ["lapse"]
    refused = await cast.program.client.patch(
        f"/v1/graduates/{cast.gid}",
        headers=newcomer.headers,
        json={"counselor_id": str(cast.counselor.user_id)},
    )
    assert refused.status_code == 403


async def test_concurrent_help_retries_store_one_request(cast: Cast) -> None:
    import asyncio

    url = f"/v1/graduates/{cast.gid}/help"
    body = {"client_id": "0192f6a0-0000-7000-8000-0000000000aa", "message": "please"}
    responses = await asyncio.gather(
        *(cast.program.client.post(url, headers=cast.graduate.headers, json=body) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_a_refresh_is_an_event_naming_its_checkin_and_not_streamed(cast: Cast) -> None:
    factory = cast.program.app.state.session_factory
    first = await cast.submit(TODAY - timedelta(days=1), safety_concern=True)
    cast.program.clock.advance(minutes=5)
    second = await cast.submit(TODAY, safety_concern=True)
    assert first.status_code == second.status_code == 201, second.text
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "safety"]
    async with factory() as session:
        rows = await session.execute(
            select(AlertEvent.id, AlertEvent.kind, AlertEvent.checkin_id)
            .where(AlertEvent.kind.not_in(("notified", "skipped")))
            .where(AlertEvent.alert_id == uuid.UUID(alert["id"]))
            .order_by(AlertEvent.id)
        )
        events = [(r.id, r.kind, str(r.checkin_id)) for r in rows]
    assert [(kind, checkin) for _, kind, checkin in events] == [
        ("opened", first.json()["id"]),
        ("refreshed", second.json()["id"]),
    ]
    streamed = await read_events(factory, after=events[0][0] - 1, now=cast.program.clock.now())
    assert [e.id for e in streamed if str(alert["id"]) in e.data] == [events[0][0]]


async def test_a_help_request_names_its_alert(cast: Cast) -> None:
    response = await cast.program.client.post(
        f"/v1/graduates/{cast.gid}/help",
        headers=cast.graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": "outside the bar"},
    )
    assert response.status_code == 201, response.text
    async with cast.program.app.state.session_factory() as session:
        stored = await session.get(HelpRequest, uuid.UUID(response.json()["id"]))
    assert stored is not None and str(stored.alert_id) == response.json()["alert_id"]
