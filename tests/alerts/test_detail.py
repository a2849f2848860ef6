"""One alert's story (``GET /v1/alerts/{id}``): who may read it, the graduate's own words, and every
event and push of an alert that opened, rose, escalated and was acknowledged, in order."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.flows.sweep import escalate_due_alerts
from aftercare.push.service import deliver_due
from aftercare.push.webpush import PushSender
from tests.checkins.conftest import Cast
from tests.fakes.push_service import Behaviour, FakePushService
from tests.push.conftest import StartPushService

TODAY = date(2026, 11, 24)  # T0 in America/Chicago
MESSAGE = "I'm outside the bar and can't stop shaking"


@pytest.fixture
async def device_service(start_push_service: StartPushService, clock: FixedClock) -> FakePushService:
    return await start_push_service(clock)


@pytest.fixture
def settings(data_dir: Path, device_service: FakePushService) -> Settings:
    return Settings(
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        scheduler=False,
        access_token_minutes=60 * 24 * 60,
        push_allowed_origins=f"defaults,{device_service.origin}",
    )


async def test_the_help_message_is_read_by_the_counselor_and_a_supervisor_only(cast: Cast) -> None:
    client = cast.program.client
    # A check-in the same day has no part in the help request's alert (its evidence names the day).
    assert (await cast.submit(TODAY, note="an ordinary day")).status_code == 201
    cast.program.clock.advance(hours=1)
    helped = await client.post(
        f"/v1/graduates/{cast.gid}/help",
        headers=cast.graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": MESSAGE},
    )
    assert helped.status_code == 201, helped.text
    alert_id = helped.json()["alert_id"]
    for reader in (cast.counselor, cast.supervisor):
        response = await client.get(f"/v1/alerts/{alert_id}", headers=reader.headers)
        assert response.status_code == 200, response.text
        detail = response.json()
        assert (detail["id"], detail["rule"], detail["severity"], detail["status"]) == (
            alert_id,
            "safety",
            "critical",
            "open",
        )
        assert detail["help_requests"] == [
            {"id": helped.json()["id"], "received_at": "2026-11-24T19:00:00Z", "message": MESSAGE}
        ]
        assert detail["checkins"] == []
        # Opened, and the counselor (no device, no e-mail) passed over as unreachable: the inbox has it.
        assert [(e["kind"], e["checkin_id"], e["reason"]) for e in detail["events"]] == [
            ("opened", None, None),
            ("skipped", None, "unreachable"),
        ]

    stranger = await cast.program.staff(cast.supervisor)
    refused = await client.get(f"/v1/alerts/{alert_id}", headers=stranger.headers)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert MESSAGE not in refused.text and "shaking" not in refused.text
    missing = await client.get(f"/v1/alerts/{uuid.uuid4()}", headers=cast.counselor.headers)
    assert missing.status_code == 404 and missing.json() == refused.json()
    assert (await client.get(f"/v1/alerts/{alert_id}", headers=cast.graduate.headers)).status_code == 403

    async with cast.program.app.state.session_factory() as session:
        readers = await session.scalars(
            select(AuditEvent.actor_id)
            .where(
                AuditEvent.resource == "alert",
                AuditEvent.action == "read",
                AuditEvent.resource_id == alert_id,
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        assert list(readers) == [cast.counselor.user_id, cast.supervisor.user_id]


async def test_every_event_and_push_of_a_raised_escalated_acknowledged_alert_in_order(
    cast: Cast, device_service: FakePushService, push_sender: PushSender, quiet_outbox: None
) -> None:
    client, clock = cast.program.client, cast.program.clock
    factory = cast.program.app.state.session_factory
    device = device_service.new_subscription()
    subscribed = await client.post(
        "/v1/push/subscriptions", headers=cast.counselor.headers, json=device.as_json()
    )
    assert subscribed.status_code == 201, subscribed.text

    async def deliver() -> None:
        await deliver_due(factory, push_sender, now=clock.now(), worker_id="detail", limit=50)

    # 18:00 a lapse opens a high alert; its push arrives at once.
    first = await cast.submit(TODAY - timedelta(days=1), used=True, note="one drink at the wedding")
    assert first.status_code == 201, first.text
    await deliver()
    # 18:01 a second lapse raises it to critical; the push service fails once, then takes it.
    clock.advance(minutes=1)
    second = await cast.submit(TODAY, used=True, craving=9, note="again, alone this time")
    assert second.status_code == 201, second.text
    device_service.behave(Behaviour(500), times=1)
    await deliver()
    clock.advance(minutes=5)
    await deliver()
    # 18:17 nobody answered within 15 minutes: it escalates to the supervisors.
    clock.advance(minutes=11)
    assert await escalate_due_alerts(factory, now=clock.now()) >= 1
    # 18:20 the counselor acknowledges it, then logs the call.
    clock.advance(minutes=3)
    (alert,) = await cast.alerts()
    acked = await client.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=cast.counselor.headers)
    assert acked.status_code == 200
    clock.advance(minutes=2)
    called = await client.post(
        f"/v1/alerts/{alert['id']}/outreach",
        headers=cast.counselor.headers,
        json={"client_id": str(uuid.uuid4()), "method": "call", "outcome": "reached", "note": "safe at home"},
    )
    assert called.status_code == 201 and called.json()["acknowledged_alert"] is False

    response = await client.get(f"/v1/alerts/{alert['id']}", headers=cast.counselor.headers)
    assert response.status_code == 200, response.text
    detail = response.json()
    # No on-call rota: its level is skipped at once and the supervisors (level 2) have it.
    assert {k: detail[k] for k in ("severity", "status", "escalation_level", "acknowledged_by")} == {
        "severity": "critical",
        "status": "acknowledged",
        "escalation_level": 2,
        "acknowledged_by": str(cast.counselor.user_id),
    }
    ours = {None, str(cast.counselor.user_id), str(cast.supervisor.user_id)}  # other tests' staff aside
    counselor, supervisor = str(cast.counselor.user_id), str(cast.supervisor.user_id)
    assert [
        tuple(e[k] for k in ("kind", "at", "severity", "escalation_level", "actor_id", "checkin_id"))
        + tuple(e[k] for k in ("target", "recipient_id", "channel", "reason"))
        for e in detail["events"]
        if e["recipient_id"] in ours
    ] == [
        ("opened", "2026-11-24T18:00:00Z", "high", 0, None, first.json()["id"], None, None, None, None),
        ("notified", "2026-11-24T18:00:00Z", "high", 0, None, None, "assigned", counselor, "push", None),
        ("raised", "2026-11-24T18:01:00Z", "critical", 0, None, second.json()["id"], None, None, None, None),
        ("notified", "2026-11-24T18:01:00Z", "critical", 0, None, None, "assigned", counselor, "push", None),
        ("escalated", "2026-11-24T18:17:00Z", "critical", 1, None, None, None, None, None, None),
        (
            "skipped",
            "2026-11-24T18:17:00Z",
            "critical",
            1,
            None,
            None,
            "on_call",
            None,
            None,
            "no_one_on_call",
        ),
        ("escalated", "2026-11-24T18:17:00Z", "critical", 2, None, None, None, None, None, None),
        (
            "skipped",
            "2026-11-24T18:17:00Z",
            "critical",
            2,
            None,
            None,
            "supervisors",
            supervisor,
            None,
            "unreachable",
        ),
        ("acknowledged", "2026-11-24T18:20:00Z", "critical", 2, counselor, None, None, None, None, None),
    ]
    assert [e["id"] for e in detail["events"]] == sorted(e["id"] for e in detail["events"])
    # The check-ins behind it, with their answers and notes.
    assert [(c["id"], c["note"], c["used"]) for c in detail["checkins"]] == [
        (first.json()["id"], "one drink at the wedding", True),
        (second.json()["id"], "again, alone this time", True),
    ]
    assert detail["help_requests"] == []

    notifications = detail["notifications"]
    assert [n["created_at"] for n in notifications] == sorted(n["created_at"] for n in notifications)
    to_counselor = [n for n in notifications if n["recipient_id"] == str(cast.counselor.user_id)]
    assert [(n["kind"], n["created_at"], n["urgency"], n["status"]) for n in to_counselor] == [
        ("alert", "2026-11-24T18:00:00Z", "normal", "delivered"),
        ("alert", "2026-11-24T18:01:00Z", "high", "delivered"),
    ]
    assert all(n["channel"] == "push" for n in notifications)
    opened_push, raised_push = (n["deliveries"] for n in to_counselor)
    assert [
        (d["status"], d["attempts"], [a["status_code"] for a in d["attempt_log"]]) for d in opened_push
    ] == [("delivered", 1, [201])]
    assert [
        (d["status"], d["attempts"], [(a["outcome"], a["status_code"]) for a in d["attempt_log"]])
        for d in raised_push
    ] == [("delivered", 2, [("retry", 500), ("delivered", 201)])]
    escalations = [n for n in notifications if n["kind"] == "escalation"]
    assert str(cast.supervisor.user_id) in {n["recipient_id"] for n in escalations}
    assert {(n["created_at"], n["urgency"]) for n in escalations} == {("2026-11-24T18:17:00Z", "high")}
    # The supervisor has no device: the inbox holds it, with no channel besides.
    (to_supervisor,) = [n for n in escalations if n["recipient_id"] == supervisor]
    assert (to_supervisor["status"], to_supervisor["channels"]) == ("no_subscription", [])
    assert notifications[:2] == to_counselor and notifications[2:] == escalations

    assert [(o["id"], o["note"]) for o in detail["outreach"]] == [(called.json()["id"], "safe at home")]
    # The pushes carried ids only: nothing of the notes or answers.
    for push in device_service.received:
        assert "wedding" not in push.payload.decode() and "alone" not in push.payload.decode()
