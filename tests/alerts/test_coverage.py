"""Coverage through the API, on SQLite and PostgreSQL, with an injected clock and a loopback SMTP
server: an alert always has someone who can act on it now (issue 18).

Reachability here is e-mail: staff opt in (``email_alerts``) and the loopback relay records what
arrives. The program's rules and rota are one row each, shared by the run: ``policy`` puts them
back afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.alerts.models import AlertEvent
from aftercare.auth.models import User
from aftercare.config import Settings
from aftercare.flows.sweep import escalate_due_alerts, sweep
from aftercare.push.mail import MailSender
from aftercare.push.models import Notification
from aftercare.push.service import deliver_due
from aftercare.push.webpush import PushSender
from tests.checkins.conftest import Cast
from tests.conftest import Account, Program
from tests.fakes.smtp_server import SmtpServer, smtp_server

HELP = "0192f6a0-0000-7000-8000-0000000000{:02d}"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async with smtp_server() as server:
        yield server


@pytest.fixture(autouse=True)
async def opted_out_afterwards(engine: AsyncEngine) -> AsyncIterator[None]:
    """The staff table is shared by the run: nobody opted in here stays reachable for other tests
    (a reachable supervisor would take every other test's escalations)."""
    yield
    async with engine.begin() as connection:
        await connection.execute(update(User).values(email_alerts=False))


@pytest.fixture
def settings(data_dir: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        scheduler=False,
        access_token_minutes=60 * 24 * 60,
        smtp_url=smtp.url,
        smtp_timeout_seconds=1.0,
        public_url="https://care.example.org",
    )


@pytest.fixture
async def policy(cast: Cast) -> AsyncIterator[Callable[..., Any]]:
    """``await policy(levels=[...], critical_repeats=0, rota={...})``; defaults restored afterwards."""
    client, sup = cast.program.client, cast.supervisor

    async def put(*, rota: dict[str, Any] | None = None, **escalation: Any) -> None:
        if escalation:
            current = await client.get("/v1/program/rules", headers=sup.headers)
            body = {**current.json(), "escalation": escalation}
            response = await client.put(
                "/v1/program/rules", headers={**sup.headers, "If-Match": current.headers["etag"]}, json=body
            )
            assert response.status_code == 200, response.text
        if rota is not None:
            response = await client.put(
                "/v1/program/on-call-rota", headers={**sup.headers, "If-Match": "*"}, json=rota
            )
            assert response.status_code == 200, response.text

    yield put
    current = await client.get("/v1/program/rules", headers=sup.headers)
    await client.put(
        "/v1/program/rules",
        headers={**sup.headers, "If-Match": current.headers["etag"]},
        json={**current.json(), "escalation": {}},
    )
    await client.delete("/v1/program/on-call-rota", headers={**sup.headers, "If-Match": "*"})


async def opt_in(program: Program, account: Account) -> None:
    response = await program.client.patch(
        f"/v1/staff/{account.user_id}", headers=account.headers, json={"email_alerts": True}
    )
    assert response.status_code == 200 and response.json()["email_alerts"] is True, response.text


def rota_of(*staff: Account) -> dict[str, Any]:
    return {"participants": [str(a.user_id) for a in staff], "rotation": "week", "starts_on": "2026-11-01"}


async def decisions(cast: Cast, alert_id: str) -> list[tuple[Any, ...]]:
    """The alert's events as (kind, level, target, recipient, channel, reason), but the other
    tests' supervisors (the database is shared by the run)."""
    async with cast.program.app.state.session_factory() as session:
        rows = await session.execute(
            select(AlertEvent).where(AlertEvent.alert_id == uuid.UUID(alert_id)).order_by(AlertEvent.id)
        )
        return [
            (e.kind, e.escalation_level, e.target, e.recipient_id, e.channel, e.reason)
            for (e,) in rows
            if not (e.target == "supervisors" and e.recipient_id not in (None, cast.supervisor.user_id))
        ]


async def help_now(cast: Cast, graduate: Account | None = None, n: int = 1) -> str:
    graduate = graduate or cast.graduate
    response = await cast.program.client.post(
        f"/v1/graduates/{graduate.graduate_id}/help",
        headers=graduate.headers,
        json={"client_id": HELP.format(n)},
    )
    assert response.status_code == 201, response.text
    alert_id: str = response.json()["alert_id"]
    return alert_id


async def test_an_unassigned_graduate_s_help_now_reaches_the_on_call_at_once(
    cast: Cast, policy: Callable[..., Any], smtp: SmtpServer, push_sender: PushSender, quiet_outbox: None
) -> None:
    program = cast.program
    on_call = await program.staff(cast.supervisor)
    await opt_in(program, on_call)
    await policy(rota=rota_of(on_call))
    created = await program.client.post(
        "/v1/graduates",
        headers=cast.supervisor.headers,
        json={"display_name": "Nobody's", "timezone": "America/Chicago"},
    )
    assert created.status_code == 201 and created.json()["counselor_id"] is None
    enrolled = await program.client.post(
        "/v1/auth/enroll",
        json={
            "enrollment_code": created.json()["enrollment_code"],
            "email": f"g-{uuid.uuid4().hex[:8]}@example.org",
            "password": "correct-horse-battery",
        },
    )
    graduate = Account(
        uuid.UUID(enrolled.json()["user_id"]),
        "",
        "graduate",
        enrolled.json()["access_token"],
        uuid.UUID(created.json()["id"]),
    )

    alert_id = await help_now(cast, graduate)
    assert await decisions(cast, alert_id) == [
        ("opened", 0, None, None, None, None),
        ("skipped", 0, "assigned", None, None, "no_counselor"),
        ("escalated", 1, None, None, None, None),
        ("notified", 1, "on_call", on_call.user_id, "email", None),
    ]
    # Delivered by the sweep, through the relay: the alert's id, severity and link, nothing else.
    factory = program.app.state.session_factory
    mailer = MailSender(
        smtp.url, sender="aftercare@example.org", console_url="https://care.example.org", timeout=1.0
    )
    # Deliveries only: a whole sweep would also step other tests' due alerts (one database per run).
    await deliver_due(
        factory, push_sender, now=program.clock.now(), worker_id="coverage", limit=50, mailer=mailer
    )
    (mail,) = [m for m in smtp.received if on_call.email in m.rcpt_tos]
    assert f"https://care.example.org/console/alerts/{alert_id}" in mail.text and "critical" in mail.text
    assert "Nobody" not in mail.as_string() if hasattr(mail, "as_string") else "Nobody" not in mail.text
    # The on-call, whose caseload it is not, can act on the alert they were sent.
    acked = await program.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=on_call.headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == str(on_call.user_id)
    detail = (await program.client.get(f"/v1/alerts/{alert_id}", headers=on_call.headers)).json()
    (sent,) = [n for n in detail["notifications"] if n["recipient_id"] == str(on_call.user_id)]
    assert sent["channels"] == ["email"] and sent["status"] == "delivered"
    assert [(d["channel"], d["attempt_log"][0]["status_code"]) for d in sent["deliveries"]] == [
        ("email", 250)
    ]


async def test_deactivating_a_counselor_routes_their_next_alert_to_the_on_call_and_flags_the_caseload(
    cast: Cast, policy: Callable[..., Any]
) -> None:
    program = cast.program
    on_call = await program.staff(cast.supervisor)
    await opt_in(program, on_call)
    await policy(rota=rota_of(on_call))
    flagged = await program.client.get(
        "/v1/graduates", headers=cast.supervisor.headers, params={"needs_reassignment": "true", "limit": 200}
    )
    assert str(cast.gid) not in {g["id"] for g in flagged.json()["items"]}
    response = await program.client.patch(
        f"/v1/staff/{cast.counselor.user_id}", headers=cast.supervisor.headers, json={"active": False}
    )
    assert response.status_code == 200
    flagged = await program.client.get(
        "/v1/graduates", headers=cast.supervisor.headers, params={"needs_reassignment": "true", "limit": 200}
    )
    assert str(cast.gid) in {g["id"] for g in flagged.json()["items"]}
    others = await program.client.get(
        "/v1/graduates", headers=cast.supervisor.headers, params={"needs_reassignment": "false", "limit": 200}
    )
    assert str(cast.gid) not in {g["id"] for g in others.json()["items"]}

    alert_id = await help_now(cast)
    assert await decisions(cast, alert_id) == [
        ("opened", 0, None, None, None, None),
        ("skipped", 0, "assigned", cast.counselor.user_id, None, "inactive"),
        ("escalated", 1, None, None, None, None),
        ("notified", 1, "on_call", on_call.user_id, "email", None),
    ]


async def test_an_away_counselor_s_alert_reaches_the_cover_who_acts_then_loses_reach(
    cast: Cast, policy: Callable[..., Any]
) -> None:
    program, client, clock = cast.program, cast.program.client, cast.program.clock
    cover = await program.staff(cast.supervisor)
    await opt_in(program, cover)
    await policy(rota=rota_of(cast.supervisor))
    url = f"/v1/staff/{cast.counselor.user_id}/away"
    start, end = clock.now(), clock.now() + timedelta(hours=2)
    body = {"from": start.isoformat(), "until": end.isoformat(), "covering_staff_id": str(cover.user_id)}
    # Bad input first: the cover must be someone else and active; no overlaps.
    refused = await client.put(
        url, headers=cast.counselor.headers, json={**body, "covering_staff_id": str(cast.counselor.user_id)}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "covering_staff_id"
    unknown = await client.put(
        url, headers=cast.counselor.headers, json={**body, "covering_staff_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 422
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cover.headers)).status_code == 404
    made = await client.put(url, headers=cast.counselor.headers, json=body)
    assert made.status_code == 201, made.text
    again = await client.put(url, headers=cast.counselor.headers, json=body)
    assert again.status_code == 200 and again.json() == made.json()
    later = {
        **body,
        "from": (end - timedelta(minutes=30)).isoformat(),
        "until": (end + timedelta(hours=1)).isoformat(),
    }
    overlap = await client.put(url, headers=cast.supervisor.headers, json=later)
    assert overlap.status_code == 409 and overlap.json()["type"] == "/problems/away-overlap"
    assert overlap.json()["conflicting_id"] == made.json()["id"]
    other = await program.staff(cast.supervisor)
    assert (await client.put(url, headers=other.headers, json=later)).status_code == 403

    # While away: the caseload's new alert goes to the cover, who reads the caseload and acts.
    alert_id = await help_now(cast)
    assert await decisions(cast, alert_id) == [
        ("opened", 0, None, None, None, None),
        ("notified", 0, "assigned", cover.user_id, "email", "covering"),
    ]
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cover.headers)).status_code == 200
    caseload = await client.get("/v1/graduates", headers=cover.headers)
    assert str(cast.gid) in {g["id"] for g in caseload.json()["items"]}
    assert alert_id in {
        a["id"] for a in (await client.get("/v1/alerts", headers=cover.headers)).json()["items"]
    }
    acked = await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=cover.headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == str(cover.user_id)

    # The period ends: reach returns to the counselor, the cover loses it, nothing moves.
    clock.advance(hours=2)
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cover.headers)).status_code == 404
    assert (await client.get(f"/v1/alerts/{alert_id}", headers=cover.headers)).status_code == 404
    assert (await client.get("/v1/alerts", headers=cover.headers)).json()["items"] == []
    counselor_view = await client.get(f"/v1/alerts/{alert_id}", headers=cast.counselor.headers)
    assert counselor_view.status_code == 200 and counselor_view.json()["acknowledged_by"] == str(
        cover.user_id
    )
    assert (await client.get(url, headers=cover.headers)).json()["items"] == []


async def test_ending_an_away_period_early_returns_reach_at_once(cast: Cast) -> None:
    client, clock = cast.program.client, cast.program.clock
    cover = await cast.program.staff(cast.supervisor)
    url = f"/v1/staff/{cast.counselor.user_id}/away"
    body = {
        "from": clock.now().isoformat(),
        "until": (clock.now() + timedelta(days=3)).isoformat(),
        "covering_staff_id": str(cover.user_id),
    }
    assert (await client.put(url, headers=cast.counselor.headers, json=body)).status_code == 201
    future = {
        **body,
        "from": (clock.now() + timedelta(days=10)).isoformat(),
        "until": (clock.now() + timedelta(days=12)).isoformat(),
    }
    planned = await client.put(url, headers=cast.counselor.headers, json=future)
    assert planned.status_code == 201
    assert len((await client.get(url, headers=cover.headers)).json()["items"]) == 2
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cover.headers)).status_code == 200
    assert (await client.delete(url, headers=cast.counselor.headers)).status_code == 204
    assert (await client.get(f"/v1/graduates/{cast.gid}", headers=cover.headers)).status_code == 404
    assert (await client.delete(url, headers=cast.counselor.headers)).status_code == 404
    assert (
        await client.delete(f"{url}/{planned.json()['id']}", headers=cast.supervisor.headers)
    ).status_code == 204
    assert (await client.get(url, headers=cover.headers)).json()["items"] == []


async def test_the_chain_walks_its_levels_with_the_policy_s_waits_and_stops_on_acknowledgement(
    cast: Cast, policy: Callable[..., Any]
) -> None:
    program, client, clock = cast.program, cast.program.client, cast.program.clock
    factory = program.app.state.session_factory
    backup = await program.staff(cast.supervisor)
    for account in (cast.counselor, backup, cast.supervisor):
        await opt_in(program, account)
    await policy(
        levels=[
            {"target": "assigned"},
            {"target": "staff", "staff_ids": [str(backup.user_id)], "wait_minutes": {"critical": 5}},
            {"target": "supervisors", "wait_minutes": {"critical": 10}},
        ],
        critical_repeats=0,
    )
    alert_id = await help_now(cast)
    for minutes, level in ((14, 0), (1, 1), (4, 1), (1, 2)):  # the target (15), then 5
        clock.advance(minutes=minutes)
        await escalate_due_alerts(factory, now=clock.now())
        (alert,) = [a for a in await cast.alerts(cast.supervisor) if a["id"] == alert_id]
        assert alert["escalation_level"] == level, (minutes, alert)
    acked = await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=backup.headers)
    assert acked.status_code == 200
    clock.advance(hours=3)
    await escalate_due_alerts(factory, now=clock.now())
    assert await decisions(cast, alert_id) == [
        ("opened", 0, None, None, None, None),
        ("notified", 0, "assigned", cast.counselor.user_id, "email", None),
        ("escalated", 1, None, None, None, None),
        ("notified", 1, "staff", backup.user_id, "email", None),
        ("escalated", 2, None, None, None, None),
        ("notified", 2, "supervisors", cast.supervisor.user_id, "email", None),
        ("acknowledged", 2, None, None, None, None),
    ]
    detail = (await client.get(f"/v1/alerts/{alert_id}", headers=cast.supervisor.headers)).json()
    assert [e["kind"] for e in detail["events"]][-1] == "acknowledged"
    assert {"notified", "escalated"} <= {e["kind"] for e in detail["events"]}


async def test_two_sweepers_never_notify_one_level_twice(cast: Cast, policy: Callable[..., Any]) -> None:
    program, clock = cast.program, cast.program.clock
    factory = program.app.state.session_factory
    backup = await program.staff(cast.supervisor)
    await opt_in(program, backup)
    await policy(
        levels=[{"target": "assigned"}, {"target": "staff", "staff_ids": [str(backup.user_id)]}],
        critical_repeats=0,
    )
    alert_id = await help_now(cast)
    clock.advance(minutes=15)
    await asyncio.gather(*(escalate_due_alerts(factory, now=clock.now()) for _ in range(4)))
    async with factory() as session:
        to_backup = await session.scalars(
            select(Notification.id).where(
                Notification.ref_id == alert_id, Notification.user_id == backup.user_id
            )
        )
        assert len(list(to_backup)) == 1
    kinds = [d[0] for d in await decisions(cast, alert_id)]
    assert kinds.count("escalated") == 1 and kinds.count("notified") == 1


async def test_a_hanging_relay_does_not_delay_the_next_level(
    cast: Cast, policy: Callable[..., Any], smtp: SmtpServer, push_sender: PushSender, quiet_outbox: None
) -> None:
    program, clock = cast.program, cast.program.clock
    factory = program.app.state.session_factory
    backup = await program.staff(cast.supervisor)
    for account in (cast.counselor, backup):
        await opt_in(program, account)
    await policy(
        levels=[{"target": "assigned"}, {"target": "staff", "staff_ids": [str(backup.user_id)]}],
        critical_repeats=0,
    )
    alert_id = await help_now(cast)
    smtp.mode = "hang"
    mailer = MailSender(
        smtp.url, sender="aftercare@example.org", console_url="https://care.example.org", timeout=0.5
    )
    clock.advance(minutes=15)
    report = await sweep(factory, now=clock.now(), worker_id="hang", sender=push_sender, mailer=mailer)
    assert report.escalated >= 1  # ours, and any other test's alert due by now (one database per run)
    assert report.delivery is not None and report.delivery.retried >= 1
    detail = (await program.client.get(f"/v1/alerts/{alert_id}", headers=cast.supervisor.headers)).json()
    assert detail["escalation_level"] == 1
    attempts = [a for n in detail["notifications"] for d in n["deliveries"] for a in d["attempt_log"]]
    assert attempts and all(a["outcome"] == "retry" and "0.5 s" in a["error"] for a in attempts)


async def test_a_counselor_chooses_a_cover_among_active_colleagues_and_learns_nothing_more(
    cast: Cast,
) -> None:
    """A counselor going away picks their own cover: ``GET /v1/staff/colleagues`` gives every staff
    member the active colleagues' names and roles, never their e-mail or settings."""
    client = cast.program.client
    cover = await cast.program.staff(cast.supervisor)
    gone = await cast.program.staff(cast.supervisor)
    deactivated = await client.patch(
        f"/v1/staff/{gone.user_id}", headers=cast.supervisor.headers, json={"active": False}
    )
    assert deactivated.status_code == 200

    # Every page: the database is shared by the session's tests, so earlier ones' staff are listed too.
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        listed = await client.get("/v1/staff/colleagues", headers=cast.counselor.headers, params=params)
        assert listed.status_code == 200
        items += listed.json()["items"]
        cursor = listed.json()["next_cursor"]
        if cursor is None:
            break
    by_id = {item["id"]: item for item in items}
    assert {str(cast.counselor.user_id), str(cover.user_id), str(cast.supervisor.user_id)} <= set(by_id)
    assert str(gone.user_id) not in by_id
    assert str(cast.graduate.user_id) not in by_id
    assert all(set(item) == {"id", "display_name", "role"} for item in items)
    assert by_id[str(cast.supervisor.user_id)]["role"] == "supervisor"

    away = await client.put(
        f"/v1/staff/{cast.counselor.user_id}/away",
        headers=cast.counselor.headers,
        json={
            "from": cast.program.clock.now().isoformat(),
            "until": (cast.program.clock.now() + timedelta(days=2)).isoformat(),
            "covering_staff_id": str(cover.user_id),
        },
    )
    assert away.status_code == 201, away.text
    graduate = await client.get("/v1/staff/colleagues", headers=cast.graduate.headers)
    assert graduate.status_code == 403
