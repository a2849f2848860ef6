"""The outreach log through the API: recording on an alert (which answers it when it is waiting) and
without one, idempotency by client_id, bad input that leaves nothing behind, the cursor list, the
timeline, and no note in any log line."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from aftercare.alerts.models import AlertEvent
from aftercare.alerts.stream import last_event_id, read_events
from aftercare.audit.models import AuditEvent
from aftercare.flows.sweep import escalate_due_alerts
from aftercare.logs import JsonFormatter
from aftercare.outreach.models import Outreach
from tests.checkins.conftest import Cast
from tests.conftest import Account

TODAY = date(2026, 11, 24)  # T0 in America/Chicago
NOTE = "Reached her at her sister's; says the wedding was the trigger"


def body(**fields: Any) -> dict[str, Any]:
    return {"client_id": str(uuid.uuid4()), "method": "call", "outcome": "reached", **fields}


async def post(cast: Cast, path: str, payload: dict[str, Any], by: Account | None = None) -> Any:
    return await cast.program.client.post(path, headers=(by or cast.counselor).headers, json=payload)


async def open_alert(cast: Cast, **answers: Any) -> dict[str, Any]:
    response = await cast.submit(TODAY, **(answers or {"safety_concern": True}))
    assert response.status_code == 201, response.text
    (alert,) = [a for a in await cast.alerts() if a["status"] == "open"]
    return alert


async def alert_now(cast: Cast, alert_id: str) -> dict[str, Any]:
    (alert,) = [a for a in await cast.alerts() if a["id"] == alert_id]
    return alert


async def event_kinds(cast: Cast, alert_id: str) -> list[str]:
    async with cast.program.app.state.session_factory() as session:
        kinds = await session.scalars(
            select(AlertEvent.kind)
            .where(
                AlertEvent.alert_id == uuid.UUID(alert_id), AlertEvent.kind.not_in(("notified", "skipped"))
            )
            .order_by(AlertEvent.id)
        )
        return list(kinds)


async def stored(cast: Cast) -> int:
    async with cast.program.app.state.session_factory() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Outreach).where(Outreach.graduate_id == cast.gid)
            )
            or 0
        )


async def test_a_first_outreach_acknowledges_an_open_alert_and_stops_its_escalation(cast: Cast) -> None:
    clock, factory = cast.program.clock, cast.program.app.state.session_factory
    alert = await open_alert(cast)
    last_event = await last_event_id(factory)
    clock.advance(minutes=3)
    first = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(note=NOTE))
    assert first.status_code == 201, first.text
    record = first.json()
    assert record["alert_id"] == alert["id"] and record["graduate_id"] == str(cast.gid)
    assert record["acknowledged_alert"] is True and record["note"] == NOTE
    assert record["occurred_at"] == record["recorded_at"] == "2026-11-24T18:03:00Z"
    assert record["recorded_by"] == str(cast.counselor.user_id)
    after = await alert_now(cast, alert["id"])
    assert after["status"] == "acknowledged"
    assert after["acknowledged_by"] == str(cast.counselor.user_id)
    assert after["acknowledged_at"] == "2026-11-24T18:03:00Z"
    # On the stream, as an acknowledgement through its own route would be; the note is not.
    streamed = [
        e
        for e in await read_events(factory, after=last_event, now=cast.program.clock.now())
        if alert["id"] in e.data
    ]
    assert len(streamed) == 1 and json.loads(streamed[0].data)["status"] == "acknowledged"
    assert "sister" not in streamed[0].data
    # Escalation stopped.
    clock.advance(hours=2)
    await escalate_due_alerts(factory, now=clock.now())
    assert (await alert_now(cast, alert["id"]))["escalation_level"] == 0

    clock.advance(minutes=1)
    second = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(method="text", outcome="no_answer"))
    assert second.status_code == 201 and second.json()["acknowledged_alert"] is False
    assert (await alert_now(cast, alert["id"]))["acknowledged_at"] == "2026-11-24T18:03:00Z"
    assert await event_kinds(cast, alert["id"]) == ["opened", "acknowledged"]


async def test_a_supervisor_may_record_outreach_and_acknowledges_as_themselves(cast: Cast) -> None:
    alert = await open_alert(cast)
    response = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(), by=cast.supervisor)
    assert response.status_code == 201, response.text
    assert (await alert_now(cast, alert["id"]))["acknowledged_by"] == str(cast.supervisor.user_id)


async def test_outreach_from_before_the_alert_rose_does_not_answer_it(cast: Cast) -> None:
    clock = cast.program.clock
    assert (await cast.submit(TODAY - timedelta(days=1), used=True)).status_code == 201  # high
    clock.advance(minutes=10)
    called_at = clock.now()
    clock.advance(minutes=10)
    assert (await cast.submit(TODAY, used=True)).status_code == 201  # a second lapse: critical
    (alert,) = await cast.alerts()
    assert alert["severity"] == "critical" and alert["status"] == "open"
    clock.advance(minutes=5)
    logged_late = await post(
        cast,
        f"/v1/alerts/{alert['id']}/outreach",
        body(outcome="left_message", occurred_at=called_at.isoformat()),
    )
    assert logged_late.status_code == 201, logged_late.text
    assert logged_late.json()["acknowledged_alert"] is False
    assert (await alert_now(cast, alert["id"]))["status"] == "open"
    answered = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body())
    assert answered.json()["acknowledged_alert"] is True
    assert (await alert_now(cast, alert["id"]))["status"] == "acknowledged"


async def test_outreach_on_a_resolved_alert_is_history_and_changes_nothing(cast: Cast) -> None:
    alert = await open_alert(cast, used=True)
    resolved = await post(cast, f"/v1/alerts/{alert['id']}/resolve", {"note": "Back at meetings."})
    assert resolved.status_code == 200
    cast.program.clock.advance(days=1)
    late = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(method="in_person"))
    assert late.status_code == 201, late.text
    assert late.json()["acknowledged_alert"] is False
    assert (await alert_now(cast, alert["id"])) == resolved.json()
    assert await event_kinds(cast, alert["id"]) == ["opened", "resolved"]


async def test_outreach_is_idempotent_by_client_id(cast: Cast) -> None:
    clock = cast.program.clock
    alert = await open_alert(cast)
    clock.advance(minutes=10)
    path = f"/v1/alerts/{alert['id']}/outreach"
    payload = body(note=NOTE, occurred_at="2026-11-24T12:08:00-06:00")
    first = await post(cast, path, payload)
    assert first.status_code == 201, first.text
    assert first.json()["occurred_at"] == "2026-11-24T18:08:00Z"
    clock.advance(days=3)
    again = await post(cast, path, payload)
    assert again.status_code == 200 and again.json() == first.json()
    # The same instant with another offset is the same body.
    in_utc = await post(cast, path, {**payload, "occurred_at": "2026-11-24T18:08:00Z"})
    assert in_utc.status_code == 200 and in_utc.json() == first.json()
    changed = await post(cast, path, {**payload, "outcome": "declined"})
    assert changed.status_code == 409
    assert changed.json()["type"] == "/problems/idempotency-conflict"
    assert changed.headers["content-type"].startswith("application/problem+json")
    elsewhere = await post(cast, f"/v1/graduates/{cast.gid}/outreach", payload)
    assert elsewhere.status_code == 409, "the same client_id without the alert is another outreach"
    assert await stored(cast) == 1


async def test_without_a_note_or_time_a_replay_days_later_is_still_the_same_body(cast: Cast) -> None:
    path = f"/v1/graduates/{cast.gid}/outreach"
    payload = body(method="voicemail", outcome="left_message")
    first = await post(cast, path, payload)
    assert first.status_code == 201, first.text
    assert first.json()["alert_id"] is None and first.json()["acknowledged_alert"] is False
    cast.program.clock.advance(days=2)
    again = await post(cast, path, {**payload, "note": None, "occurred_at": None})
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2026-11-24T18:06:00Z"}, "occurred_at"),  # 6 minutes ahead
        ({"occurred_at": "2026-11-24T18:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "2026-11-20T18:00:00Z"}, "occurred_at"),  # before the graduate was added
        ({"note": "x" * 2001}, "note"),
        ({"method": "fax"}, "method"),
        ({"outcome": "maybe"}, "outcome"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"channel": "call"}, "channel"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_leaves_nothing_behind(
    cast: Cast, change: dict[str, Any], field: str
) -> None:
    alert = await open_alert(cast)
    for path in (f"/v1/alerts/{alert['id']}/outreach", f"/v1/graduates/{cast.gid}/outreach"):
        response = await post(cast, path, {**body(), **change})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == "/problems/validation"
        assert [e["field"] for e in problem["errors"]] == [field]
    assert await stored(cast) == 0
    assert (await alert_now(cast, alert["id"]))["status"] == "open"


async def test_a_little_ahead_and_exactly_2000_characters_are_fine(cast: Cast) -> None:
    response = await post(
        cast,
        f"/v1/graduates/{cast.gid}/outreach",
        body(occurred_at="2026-11-24T18:05:00Z", note="x" * 2000, method="video", outcome="referred"),
    )
    assert response.status_code == 201, response.text


async def test_outreach_out_of_reach_is_a_404_and_changes_nothing(cast: Cast) -> None:
    alert = await open_alert(cast)
    stranger = await cast.program.staff(cast.supervisor)
    refused = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(note=NOTE), by=stranger)
    assert refused.status_code == 404 and refused.json()["detail"] == "alert not found"
    assert "sister" not in refused.text
    missing = await post(cast, f"/v1/alerts/{uuid.uuid4()}/outreach", body())
    assert missing.status_code == 404 and missing.json() == refused.json()
    on_graduate = await post(cast, f"/v1/graduates/{cast.gid}/outreach", body(), by=stranger)
    assert on_graduate.status_code == 404
    as_graduate = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(), by=cast.graduate)
    assert as_graduate.status_code == 403
    assert await stored(cast) == 0
    assert (await alert_now(cast, alert["id"]))["status"] == "open"


async def test_the_log_pages_newest_first_by_when_it_happened(cast: Cast) -> None:
    clock, client = cast.program.clock, cast.program.client
    clock.advance(hours=5)
    # Recorded in one order, happened in another: the list follows when they happened.
    offsets = [30, 90, 10, 240, 60]
    ids = {}
    for minutes in offsets:
        occurred = (clock.now() - timedelta(minutes=minutes)).isoformat()
        response = await post(cast, f"/v1/graduates/{cast.gid}/outreach", body(occurred_at=occurred))
        assert response.status_code == 201, response.text
        ids[minutes] = response.json()["id"]
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/v1/graduates/{cast.gid}/outreach", headers=cast.counselor.headers, params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[m] for m in sorted(offsets)]
    assert pages == 3
    async with cast.program.app.state.session_factory() as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.graduate_id == cast.gid,
                AuditEvent.resource == "outreach",
                AuditEvent.action == "read",
            )
        )
    assert audited == pages
    bad = await client.get(
        f"/v1/graduates/{cast.gid}/outreach", headers=cast.counselor.headers, params={"cursor": "nope"}
    )
    assert bad.status_code == 400 and bad.json()["type"] == "/problems/invalid-cursor"
    as_graduate = await client.get(f"/v1/graduates/{cast.gid}/outreach", headers=cast.graduate.headers)
    assert as_graduate.status_code == 403


async def test_the_timeline_shows_outreach_without_its_note(cast: Cast) -> None:
    alert = await open_alert(cast)
    cast.program.clock.advance(minutes=2)
    recorded = await post(cast, f"/v1/alerts/{alert['id']}/outreach", body(note=NOTE, method="text"))
    assert recorded.status_code == 201
    response = await cast.program.client.get(
        f"/v1/graduates/{cast.gid}/timeline", headers=cast.counselor.headers
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["kind"], (i["alert"] or {}).get("event")) for i in items[:2]] == [
        ("outreach", None),
        ("alert", "acknowledged"),
    ]
    entry = items[0]
    assert entry["id"] == f"outreach:{recorded.json()['id']}"
    assert entry["at"] == recorded.json()["occurred_at"]
    assert entry["outreach"] == {
        "outreach_id": recorded.json()["id"],
        "alert_id": alert["id"],
        "method": "text",
        "outcome": "reached",
        "recorded_by": str(cast.counselor.user_id),
        "acknowledged_alert": True,
    }
    assert "sister" not in response.text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every line the app logs, at every level, while the test runs."""
    handler, logger = _Lines(), logging.getLogger("aftercare")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_no_note_in_any_log_line(cast: Cast, log_lines: list[str]) -> None:
    alert = await open_alert(cast)
    payload = body(note=NOTE)
    path = f"/v1/alerts/{alert['id']}/outreach"
    assert (await post(cast, path, payload)).status_code == 201
    assert (await post(cast, path, payload)).status_code == 200
    assert (await post(cast, path, {**payload, "outcome": "other"})).status_code == 409
    assert (await post(cast, path, body(note=NOTE + "x" * 2000))).status_code == 422
    detail = await cast.program.client.get(f"/v1/alerts/{alert['id']}", headers=cast.counselor.headers)
    assert detail.status_code == 200 and NOTE in detail.text
    assert log_lines, "the requests were logged"
    everything = "\n".join(log_lines)
    for secret in ("sister", "wedding", "Reached her"):
        assert secret not in everything


async def test_concurrent_retries_store_one_record_and_acknowledge_once(cast: Cast) -> None:
    import asyncio

    alert = await open_alert(cast)
    payload = body(note=NOTE)
    responses = await asyncio.gather(
        *(post(cast, f"/v1/alerts/{alert['id']}/outreach", payload) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await stored(cast) == 1
    assert await event_kinds(cast, alert["id"]) == ["opened", "acknowledged"]
