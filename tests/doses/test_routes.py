"""``POST``/``GET /v1/graduates/{id}/doses``: what is accepted, what is refused and why, replays."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from aftercare.audit.models import AuditEvent
from aftercare.doses.models import Dose
from tests.conftest import Program
from tests.doses.conftest import Cast, make_cast, utc, z

# T0 (tests.conftest) is 2026-11-24 18:00 UTC, noon in Chicago. The morning dose is 08:00 CST.
TODAY_AM = utc(2026, 11, 24, 14)
YESTERDAY_PM = utc(2026, 11, 24, 3)  # 21:00 CST on the 23rd


async def count_doses(cast: Cast) -> int:
    async with cast.program.app.state.session_factory() as session:
        return int(await session.scalar(select(func.count()).where(Dose.graduate_id == cast.gid)) or 0)


async def test_a_dose_is_recorded_with_its_local_day(cast: Cast) -> None:
    response = await cast.dose("med-am", TODAY_AM, at="2026-11-24T14:05:00Z")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["medication_id"] == "med-am"
    assert body["scheduled_for"] == "2026-11-24T14:00:00Z"
    assert body["local_date"] == "2026-11-24"
    assert (body["status"], body["at"], body["received_at"]) == (
        "taken",
        "2026-11-24T14:05:00Z",
        z(cast.program.clock.now()),
    )
    # Yesterday's dose is still open today: the day and the next.
    late = await cast.dose("med-pm", YESTERDAY_PM, status="skipped")
    assert late.status_code == 201, late.text
    assert late.json()["local_date"] == "2026-11-23"


async def test_replay_is_the_same_answer_and_a_changed_body_conflicts(cast: Cast) -> None:
    url = f"/v1/graduates/{cast.gid}/doses"
    body = cast.dose_body("med-am", TODAY_AM)
    first = await cast.client.post(url, headers=cast.graduate.headers, json=body)
    assert first.status_code == 201
    cast.program.clock.advance(hours=3)
    replay = await cast.client.post(url, headers=cast.graduate.headers, json={**body, "at": None})
    assert replay.status_code == 200
    assert replay.json() == first.json()
    changed = await cast.client.post(url, headers=cast.graduate.headers, json={**body, "status": "skipped"})
    assert changed.status_code == 409
    assert changed.json()["type"] == "/problems/idempotency-conflict"
    # The same dose under another client_id: one record per dose, naming the first.
    again = await cast.dose("med-am", TODAY_AM, status="skipped")
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/dose-exists"
    assert again.json()["dose_id"] == first.json()["id"]
    assert await count_doses(cast) == 1


async def test_a_medication_not_in_the_plan_is_422_naming_medication_id(cast: Cast) -> None:
    response = await cast.dose("aspirin", TODAY_AM)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["medication_id"]
    assert await count_doses(cast) == 0


async def test_a_time_that_is_no_dose_of_the_schedule_is_422(cast: Cast) -> None:
    response = await cast.dose("med-am", TODAY_AM + timedelta(minutes=30))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["scheduled_for"]


async def test_outside_the_doses_day_and_the_next_is_422(cast: Cast) -> None:
    too_old = await cast.dose("med-am", TODAY_AM - timedelta(days=2))  # the 22nd: its next day has ended
    assert too_old.status_code == 422
    assert [e["field"] for e in too_old.json()["errors"]] == ["scheduled_for"]
    ahead = await cast.dose("med-am", TODAY_AM + timedelta(days=1))  # tomorrow's has not begun
    assert ahead.status_code == 422
    assert [e["field"] for e in ahead.json()["errors"]] == ["scheduled_for"]
    future_at = await cast.dose("med-am", TODAY_AM, at=z(cast.program.clock.now() + timedelta(minutes=5)))
    assert future_at.status_code == 422
    assert [e["field"] for e in future_at.json()["errors"]] == ["at"]
    no_offset = await cast.dose("med-am", TODAY_AM, at="2026-11-24T08:05:00")
    assert no_offset.status_code == 422
    assert no_offset.json()["errors"][0]["field"] == "at"
    bad_status = await cast.dose("med-am", TODAY_AM, status="maybe")
    assert bad_status.status_code == 422
    assert bad_status.json()["errors"][0]["field"] == "status"
    assert await count_doses(cast) == 0


async def test_the_window_follows_local_days_across_dst(program: Program) -> None:
    # Fall back: 2026-11-01 has 25 hours in Chicago, so the 31st's dose is open until 06:00 UTC on
    # the 2nd (CST midnight), an hour past what 48 hours of arithmetic would give.
    program.clock.set(utc(2026, 10, 31, 12))
    cast = await make_cast(program)
    dose = utc(2026, 10, 31, 13)  # 08:00 CDT
    program.clock.set(utc(2026, 11, 2, 5, 30))
    assert (await cast.dose("med-am", dose)).status_code == 201
    # Spring forward: 2026-03-08 has 23 hours; the 8th's dose closes at 05:00 UTC on the 10th (CDT).
    program.clock.set(utc(2026, 3, 8, 12))
    cast = await make_cast(program)
    dose = utc(2026, 3, 8, 13)  # 08:00 CDT, the first morning after the gap
    program.clock.set(utc(2026, 3, 10, 5))
    late = await cast.dose("med-am", dose)
    assert late.status_code == 422 and late.json()["errors"][0]["field"] == "scheduled_for"
    program.clock.set(utc(2026, 3, 10, 4, 59))
    assert (await cast.dose("med-am", dose)).status_code == 201


async def test_only_the_graduate_records_and_another_graduates_id_is_404(
    cast: Cast, program: Program
) -> None:
    body = cast.dose_body("med-am", TODAY_AM)
    as_counselor = await cast.client.post(
        f"/v1/graduates/{cast.gid}/doses", headers=cast.counselor.headers, json=body
    )
    assert as_counselor.status_code == 403
    other = await make_cast(program)
    into_other = await cast.client.post(
        f"/v1/graduates/{other.gid}/doses", headers=cast.graduate.headers, json=body
    )
    assert into_other.status_code == 404
    unknown = await cast.client.post(
        f"/v1/graduates/{uuid.uuid4()}/doses", headers=cast.graduate.headers, json=body
    )
    assert unknown.status_code == 404
    assert await count_doses(cast) == await count_doses(other) == 0


async def test_the_list_pages_newest_day_first_and_a_staff_read_is_audited(cast: Cast) -> None:
    assert (await cast.dose("med-pm", YESTERDAY_PM)).status_code == 201
    assert (await cast.dose("med-am", TODAY_AM)).status_code == 201
    url = f"/v1/graduates/{cast.gid}/doses"
    first = await cast.client.get(url, headers=cast.counselor.headers, params={"limit": 1})
    assert first.status_code == 200, first.text
    assert [d["local_date"] for d in first.json()["items"]] == ["2026-11-24"]
    second = await cast.client.get(
        url, headers=cast.counselor.headers, params={"limit": 1, "cursor": first.json()["next_cursor"]}
    )
    assert [d["local_date"] for d in second.json()["items"]] == ["2026-11-23"]
    assert second.json()["next_cursor"] is None
    ranged = await cast.client.get(
        url, headers=cast.graduate.headers, params={"from": "2026-11-24", "to": "2026-11-24"}
    )
    assert [d["medication_id"] for d in ranged.json()["items"]] == ["med-am"]
    backwards = await cast.client.get(
        url, headers=cast.graduate.headers, params={"from": "2026-11-24", "to": "2026-11-23"}
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "from"
    async with cast.program.app.state.session_factory() as session:
        readers = list(
            await session.scalars(
                select(AuditEvent.actor_id).where(
                    AuditEvent.resource == "doses", AuditEvent.graduate_id == cast.gid
                )
            )
        )
    assert readers == [cast.counselor.user_id] * 2  # the graduate's own reads are theirs, not audited


async def test_staff_see_doses_in_the_timeline(cast: Cast) -> None:
    recorded = (await cast.dose("med-am", TODAY_AM)).json()
    response = await cast.client.get(f"/v1/graduates/{cast.gid}/timeline", headers=cast.counselor.headers)
    assert response.status_code == 200, response.text
    [entry] = [i for i in response.json()["items"] if i["kind"] == "dose"]
    assert entry["local_date"] == "2026-11-24"
    assert entry["dose"] == {
        "dose_id": recorded["id"],
        "medication_id": "med-am",
        "scheduled_for": "2026-11-24T14:00:00Z",
        "status": "taken",
        "taken_at": recorded["at"],
    }
    assert (entry["local_time"], entry["utc_offset"]) == ("2026-11-24T12:00", "-06:00")
