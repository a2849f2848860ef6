"""A graduate's timeline through the API: every kind of entry, in the order it happened, paged."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from aftercare.clock import FixedClock
from aftercare.flows.sweep import close_day
from aftercare.program.service import current_rules
from tests.checkins.conftest import Cast

TODAY = date(2026, 11, 24)  # T0 in America/Chicago


async def timeline(cast: Cast, **params: Any) -> dict[str, Any]:
    response = await cast.program.client.get(
        f"/v1/graduates/{cast.gid}/timeline", headers=cast.counselor.headers, params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def build_history(cast: Cast, clock: FixedClock) -> dict[str, Any]:
    """One of everything, a minute apart (the plan was set by the fixture at T0)."""
    client = cast.program.client
    clock.advance(minutes=1)
    # A phone that was offline syncs the check-in of three days ago now: it shows at its arrival.
    late = await cast.submit(TODAY - timedelta(days=3), mood=2, note="private words")
    assert late.status_code == 201, late.text
    clock.advance(minutes=1)
    today = await cast.submit(TODAY, mood=4, craving=2)
    assert today.status_code == 201, today.text
    clock.advance(minutes=1)
    amended = await client.patch(
        f"/v1/graduates/{cast.gid}/checkins/{today.json()['id']}",
        headers=cast.graduate.headers,
        json={"craving": 6, "note": "more private words"},
    )
    assert amended.status_code == 200, amended.text
    clock.advance(minutes=1)
    helped = await client.post(
        f"/v1/graduates/{cast.gid}/help",
        headers=cast.graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": "secret message"},
    )
    assert helped.status_code == 201, helped.text
    alert = (await cast.alerts())[0]
    clock.advance(minutes=1)
    acked = await client.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=cast.counselor.headers)
    assert acked.status_code == 200, acked.text
    clock.advance(minutes=1)
    async with cast.program.app.state.session_factory() as session, session.begin():
        await close_day(
            session,
            rules=await current_rules(session),
            graduate_id=cast.gid,
            local_date=TODAY - timedelta(days=1),
            now=clock.now(),
        )
    return {"late": late.json(), "today": today.json(), "alert": alert}


async def test_every_kind_of_entry_newest_first(cast: Cast, clock: FixedClock) -> None:
    history = await build_history(cast, clock)
    body = await timeline(cast)
    items = body["items"]
    assert body["next_cursor"] is None
    kinds = [(i["kind"], (i["alert"] or {}).get("event")) for i in items]
    assert kinds == [
        ("missed_day", None),
        ("alert", "acknowledged"),
        ("alert", "opened"),
        ("help_request", None),
        ("amendment", None),
        ("checkin", None),
        ("checkin", None),
        # Enrollment's zone and the first plan, both at T0 (a tie goes by the source's rank).
        ("timezone_change", None),
        ("plan_change", None),
    ]
    ats = [i["at"] for i in items]
    assert ats == sorted(ats, reverse=True)
    missed, acked, opened, helped, amendment, today, late, moved, plan = items
    assert missed["local_date"] == (TODAY - timedelta(days=1)).isoformat()
    assert acked["alert"]["actor_id"] == str(cast.counselor.user_id)
    assert opened["alert"]["rule"] == "safety" and opened["alert"]["severity"] == "critical"
    assert opened["alert"]["alert_id"] == history["alert"]["id"]
    # Help now and the alert it opened happened at the same instant; their order is still fixed.
    assert helped["at"] == opened["at"]
    # The late check-in is placed at its arrival and labelled with its day.
    assert late["local_date"] == (TODAY - timedelta(days=3)).isoformat()
    assert late["checkin"]["checkin_id"] == history["late"]["id"] and late["checkin"]["answers"]["mood"] == 2
    # The check-in shows its first answers, the amendment what changed; the assessment sits with
    # the answers it was made from.
    assert today["checkin"]["answers"]["craving"] == 2 and today["checkin"]["risk_level"] is None
    assert (
        amendment["amendment"]["previous"]["craving"] == 2
        and amendment["amendment"]["answers"]["craving"] == 6
    )
    assert amendment["amendment"]["changed_fields"] == ["craving"]  # note text changed too, but is not shown
    assert amendment["amendment"]["version"] == 2 and amendment["amendment"]["risk_level"] is not None
    assert moved["timezone_change"] == {"timezone": "America/Chicago"} and moved["local_time"][11:] == "12:00"
    assert plan["plan_change"]["version"] == 1 and plan["plan_change"]["author_role"] == "counselor"
    assert "triggers" in plan["plan_change"]["changed_sections"]
    assert len({i["id"] for i in items}) == len(items)


async def test_free_text_stays_out(cast: Cast, clock: FixedClock) -> None:
    await build_history(cast, clock)
    response = await cast.program.client.get(
        f"/v1/graduates/{cast.gid}/timeline", headers=cast.supervisor.headers
    )
    assert response.status_code == 200
    assert "private words" not in response.text and "secret message" not in response.text
    assert '"note"' not in response.text


async def test_pages_neither_skip_nor_repeat(cast: Cast, clock: FixedClock) -> None:
    await build_history(cast, clock)
    whole = [i["id"] for i in (await timeline(cast))["items"]]
    for limit in (1, 2, 3):
        paged: list[str] = []
        cursor = None
        while True:
            body = await timeline(cast, limit=limit, **({"cursor": cursor} if cursor else {}))
            paged += [i["id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert paged == whole, limit


async def test_an_instant_range(cast: Cast, clock: FixedClock) -> None:
    await build_history(cast, clock)
    items = (await timeline(cast))["items"]
    start, end = items[5]["at"], items[1]["at"]  # from inclusive, to exclusive
    ranged = (await timeline(cast, **{"from": start, "to": end}))["items"]
    assert [i["id"] for i in ranged] == [i["id"] for i in items[2:6]]


async def test_bad_input_is_a_problem_naming_it(cast: Cast) -> None:
    client, path = cast.program.client, f"/v1/graduates/{cast.gid}/timeline"
    for params, status, field in (
        ({"from": "2026-11-24T18:00:00"}, 422, "from"),
        ({"cursor": "nonsense!"}, 400, "cursor"),
        ({"from": "2026-11-24T18:00:00Z", "to": "2026-11-24T17:00:00Z"}, 422, "to"),
    ):
        response = await client.get(path, headers=cast.counselor.headers, params=params)
        assert response.status_code == status, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_staff_read_is_audited(cast: Cast) -> None:
    await timeline(cast)
    async with cast.program.app.state.session_factory() as session:
        rows = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.graduate_id == cast.gid, AuditEvent.resource == "timeline"
                )
            )
        )
    assert [(r.actor_id, r.action) for r in rows] == [(cast.counselor.user_id, "read")]
