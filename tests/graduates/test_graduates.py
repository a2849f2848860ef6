"""Graduate profiles and caseloads: create, validate, who may change what, list and page."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Account, Program


async def _create(program: Program, by: Account, **fields: Any) -> Any:
    body = {"display_name": "Lee", "timezone": "America/Denver", **fields}
    return await program.client.post("/v1/graduates", headers=by.headers, json=body)


def _fields(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return sorted(e["field"] for e in response.json()["errors"])


async def test_counselor_creates_on_own_caseload_and_cannot_assign_others(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor, other = await program.staff(supervisor), await program.staff(supervisor)
    created = await _create(program, counselor)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["counselor_id"] == str(counselor.user_id)
    assert body["checkin_time"] == "19:00" and body["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    assert body["status"] == "active" and body["enrolled"] is False
    assert uuid.UUID(body["id"]).version == 7
    assert (await _create(program, counselor, counselor_id=str(counselor.user_id))).status_code == 201
    refused = await _create(program, counselor, counselor_id=str(other.user_id))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_supervisor_assigns_any_counselor_but_only_staff(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    assigned = await _create(program, supervisor, counselor_id=str(counselor.user_id))
    assert assigned.status_code == 201 and assigned.json()["counselor_id"] == str(counselor.user_id)
    assert (await _create(program, supervisor)).json()["counselor_id"] is None
    graduate = await program.graduate(counselor)
    not_staff = await _create(program, supervisor, counselor_id=str(graduate.user_id))
    assert not_staff.status_code == 422 and _fields(not_staff) == ["counselor_id"]
    unknown = await _create(program, supervisor, counselor_id=str(uuid.uuid4()))
    assert unknown.status_code == 422 and _fields(unknown) == ["counselor_id"]


async def test_time_zone_must_be_iana(program: Program) -> None:
    supervisor = await program.supervisor()
    for zone in ("Mars/Olympus", "EST5EDT-not", "../../etc/passwd", "UTC+3"):
        response = await _create(program, supervisor, timezone=zone)
        assert response.status_code == 422, zone
        assert _fields(response) == ["timezone"]
    assert (await _create(program, supervisor, timezone="Asia/Kathmandu")).status_code == 201


async def test_checkin_time_inside_quiet_hours_names_both(program: Program) -> None:
    supervisor = await program.supervisor()
    response = await _create(program, supervisor, checkin_time="23:30")
    assert response.status_code == 422 and _fields(response) == ["checkin_time", "quiet_hours"]
    inside_day_span = await _create(
        program, supervisor, checkin_time="13:00", quiet_hours={"start": "12:00", "end": "14:00"}
    )
    assert inside_day_span.status_code == 422 and _fields(inside_day_span) == ["checkin_time", "quiet_hours"]
    assert (await _create(program, supervisor, checkin_time="23:30", quiet_hours=None)).status_code == 201


async def test_graduate_may_change_own_schedule_only(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    url = f"/v1/graduates/{graduate.graduate_id}"
    changed = await program.client.patch(
        url,
        headers=graduate.headers,
        json={
            "timezone": "Europe/Lisbon",
            "checkin_time": "20:15",
            "quiet_hours": {"start": "23:00", "end": "07:00"},
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["timezone"], body["checkin_time"]) == ("Europe/Lisbon", "20:15")
    assert body["quiet_hours"] == {"start": "23:00", "end": "07:00"}
    off = await program.client.patch(url, headers=graduate.headers, json={"quiet_hours": None})
    assert off.status_code == 200 and off.json()["quiet_hours"] is None

    refused = await program.client.patch(
        url, headers=graduate.headers, json={"status": "discharged", "counselor_id": str(counselor.user_id)}
    )
    assert refused.status_code == 403
    assert refused.json()["fields"] == ["counselor_id", "status"]
    assert "counselor_id" in refused.json()["detail"] and "status" in refused.json()["detail"]
    bad_zone = await program.client.patch(url, headers=graduate.headers, json={"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and _fields(bad_zone) == ["timezone"]
    clash = await program.client.patch(
        url, headers=graduate.headers, json={"quiet_hours": {"start": "20:00", "end": "21:00"}}
    )
    assert clash.status_code == 422 and _fields(clash) == ["checkin_time", "quiet_hours"]
    unchanged = await program.client.get(url, headers=graduate.headers)
    assert unchanged.json()["status"] == "active" and unchanged.json()["quiet_hours"] is None


async def test_only_supervisors_reassign_counselors(program: Program) -> None:
    supervisor = await program.supervisor()
    first, second = await program.staff(supervisor), await program.staff(supervisor)
    graduate = await program.graduate(first)
    url = f"/v1/graduates/{graduate.graduate_id}"
    refused = await program.client.patch(
        url, headers=first.headers, json={"counselor_id": str(second.user_id)}
    )
    assert refused.status_code == 403 and refused.json()["fields"] == ["counselor_id"]
    moved = await program.client.patch(
        url, headers=supervisor.headers, json={"counselor_id": str(second.user_id)}
    )
    assert moved.status_code == 200 and moved.json()["counselor_id"] == str(second.user_id)
    # The former counselor loses reach at once (404, not 403: the record is not revealed).
    assert (await program.client.get(url, headers=first.headers)).status_code == 404
    assert (await program.client.get(url, headers=second.headers)).status_code == 200


async def test_caseload_scope(program: Program) -> None:
    supervisor = await program.supervisor()
    mine, theirs = await program.staff(supervisor), await program.staff(supervisor)
    own = [(await _create(program, mine)).json()["id"] for _ in range(2)]
    other = (await _create(program, theirs)).json()["id"]
    listed = await program.client.get("/v1/graduates", headers=mine.headers)
    assert listed.status_code == 200
    assert [g["id"] for g in listed.json()["items"]] == own
    assert listed.json()["next_cursor"] is None
    for item in listed.json()["items"]:
        assert {"last_checkin_date", "streak_days", "risk_level", "open_alerts"} <= set(item)
    everyone: list[str] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await program.client.get("/v1/graduates", headers=supervisor.headers, params=params)).json()
        everyone += [g["id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(own) | {other} <= set(everyone)


async def test_keyset_pagination_neither_skips_nor_repeats(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    created = [(await _create(program, counselor, display_name=f"G{n}")).json()["id"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await program.client.get("/v1/graduates", headers=counselor.headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [g["id"] for g in page["items"]]
        pages += 1
        if pages == 1:
            # Changes while paging neither move items nor make them reappear; new ones come last.
            await program.client.patch(
                f"/v1/graduates/{created[0]}", headers=counselor.headers, json={"display_name": "Renamed"}
            )
            created.append((await _create(program, counselor)).json()["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


async def test_me_for_each_role(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    for account in (supervisor, counselor, graduate):
        response = await program.client.get("/v1/me", headers=account.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["role"] == account.role and body["user_id"] == str(account.user_id)
        assert body["email"] == account.email
        expected = str(graduate.graduate_id) if account is graduate else None
        assert body.get("graduate_id") == expected
