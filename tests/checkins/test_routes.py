"""Daily check-ins through the API: idempotency, windows, references, assessment, alerts."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import func, select

from aftercare.checkins.models import Checkin
from aftercare.clock import FixedClock
from tests.checkins.conftest import Cast, checkin_body

# T0 in conftest is 2026-11-24 18:00 UTC = 12:00 in Chicago.
TODAY = date(2026, 11, 24)


async def test_submit_returns_assessment_and_support_for_triggers(cast: Cast) -> None:
    response = await cast.submit(TODAY, triggers=["lonely"], coping_used=["walk"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["local_date"] == TODAY.isoformat()
    assert 0 <= body["assessment"]["risk_score"] <= 100
    assert body["assessment"]["risk_level"] in ("low", "moderate", "high", "critical")
    assert [s["id"] for s in body["support"]["coping_suggestions"]] == ["call-sponsor", "walk"]
    assert body["support"]["crisis"] is None


async def test_replay_returns_the_stored_response_and_a_changed_body_conflicts(cast: Cast) -> None:
    body = checkin_body(TODAY, sleep_hours=None)
    url = f"/v1/graduates/{cast.gid}/checkins"
    first = await cast.program.client.post(url, headers=cast.graduate.headers, json=body)
    assert first.status_code == 201
    cast.program.clock.advance(days=3)
    body_without_null = {k: v for k, v in body.items() if k != "sleep_hours"}
    replay = await cast.program.client.post(url, headers=cast.graduate.headers, json=body_without_null)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    changed = await cast.program.client.post(url, headers=cast.graduate.headers, json={**body, "mood": 1})
    assert changed.status_code == 409
    assert changed.json()["type"] == "/problems/idempotency-conflict"


async def test_second_checkin_for_a_day_names_the_existing_one(cast: Cast) -> None:
    first = await cast.submit(TODAY)
    second = await cast.submit(TODAY, mood=2)
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/checkin-exists"
    assert second.json()["checkin_id"] == first.json()["id"]


async def test_local_date_window(cast: Cast) -> None:
    future = await cast.submit(TODAY + timedelta(days=1))
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "local_date"
    too_old = await cast.submit(TODAY - timedelta(days=8))
    assert too_old.status_code == 422
    offline_week = await cast.submit(TODAY - timedelta(days=7))
    assert offline_week.status_code == 201


async def test_unknown_plan_ids_are_named(cast: Cast) -> None:
    response = await cast.submit(TODAY, triggers=["payday", "casino"], coping_used=["juggling"])
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"triggers[1]", "coping_used[0]"}


async def test_out_of_range_values_are_422_with_the_field(cast: Cast) -> None:
    response = await cast.submit(TODAY, mood=6)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mood"


async def test_counselor_cannot_post_and_other_graduates_are_404(cast: Cast) -> None:
    url = f"/v1/graduates/{cast.gid}/checkins"
    as_counselor = await cast.program.client.post(
        url, headers=cast.counselor.headers, json=checkin_body(TODAY)
    )
    assert as_counselor.status_code == 403
    other = await cast.program.graduate(cast.counselor)
    as_other = await cast.program.client.post(url, headers=other.headers, json=checkin_body(TODAY))
    assert as_other.status_code == 404


async def test_concurrent_duplicates_store_exactly_one(cast: Cast) -> None:
    body = checkin_body(TODAY)
    url = f"/v1/graduates/{cast.gid}/checkins"
    responses = await asyncio.gather(
        *(cast.program.client.post(url, headers=cast.graduate.headers, json=body) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    async with cast.program.app.state.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.graduate_id == cast.gid)
        )
    assert count == 1


async def test_lapse_opens_high_and_a_second_within_14_days_raises_to_critical(cast: Cast) -> None:
    clock: FixedClock = cast.program.clock
    assert (await cast.submit(TODAY, used=True)).status_code == 201
    alerts = await cast.alerts()
    lapse = [a for a in alerts if a["rule"] == "lapse"]
    assert len(lapse) == 1 and lapse[0]["severity"] == "high" and lapse[0]["status"] == "open"
    assert lapse[0]["reasons"]
    clock.advance(days=5)
    assert (await cast.submit(TODAY + timedelta(days=5), used=True)).status_code == 201
    lapse = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    assert len(lapse) == 1, "one open alert per (graduate, rule)"
    assert lapse[0]["severity"] == "critical"


async def test_safety_concern_is_critical_at_once_with_crisis_resources(cast: Cast) -> None:
    response = await cast.submit(TODAY, safety_concern=True)
    assert response.status_code == 201
    crisis = response.json()["support"]["crisis"]
    assert crisis["crisis_line"] == "988" and crisis["steps"] == ["Call Sam", "Go to my sister's"]
    safety = [a for a in await cast.alerts() if a["rule"] == "safety"]
    assert safety and safety[0]["severity"] == "critical"


async def test_counselor_outside_caseload_sees_no_alerts(cast: Cast) -> None:
    await cast.submit(TODAY, used=True)
    stranger = await cast.program.staff(cast.supervisor)
    assert await cast.alerts(by=stranger) == []
    assert any(a["rule"] == "lapse" for a in await cast.alerts(by=cast.supervisor))


async def test_list_checkins_by_range_and_cursor(cast: Cast) -> None:
    for back in range(4):
        assert (await cast.submit(TODAY - timedelta(days=back))).status_code == 201
    url = f"/v1/graduates/{cast.gid}/checkins"
    first = await cast.program.client.get(url, headers=cast.counselor.headers, params={"limit": 2})
    assert first.status_code == 200
    page1 = first.json()
    assert [c["local_date"] for c in page1["items"]] == [
        TODAY.isoformat(),
        (TODAY - timedelta(days=1)).isoformat(),
    ]
    second = await cast.program.client.get(
        url, headers=cast.counselor.headers, params={"limit": 2, "cursor": page1["next_cursor"]}
    )
    page2 = second.json()
    assert [c["local_date"] for c in page2["items"]] == [
        (TODAY - timedelta(days=d)).isoformat() for d in (2, 3)
    ]
    ranged = await cast.program.client.get(
        url,
        headers=cast.graduate.headers,
        params={
            "from": (TODAY - timedelta(days=2)).isoformat(),
            "to": (TODAY - timedelta(days=1)).isoformat(),
        },
    )
    assert len(ranged.json()["items"]) == 2
