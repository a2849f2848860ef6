"""The audit log read back (``GET /v1/audit``, supervisors only) and what it covers beyond the
graduates' records: staff reads of the alert stream, and changes to staff, the program's rules and
assignments. Every row names who, what and whose record, never the data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aftercare.alerts.stream import AlertEventHub, StreamConfig, alert_stream
from aftercare.auth.principal import Principal
from tests.conftest import Account, Program


async def _log(program: Program, by: Account, **params: Any) -> list[dict[str, Any]]:
    response = await program.client.get("/v1/audit", headers=by.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_changes_to_staff_rules_rota_and_assignments_are_audited(program: Program) -> None:
    client = program.client
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    other = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    patched = await client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"display_name": "Renamed"}
    )
    assert patched.status_code == 200
    rules = await client.put("/v1/program/rules", headers={**supervisor.headers, "If-Match": "*"}, json={})
    assert rules.status_code == 200
    rota = await client.put(
        "/v1/program/on-call-rota",
        headers={**supervisor.headers, "If-Match": "*"},
        json={"participants": [str(counselor.user_id)], "starts_on": "2026-11-23"},
    )
    assert rota.status_code == 200, rota.text
    version = rota.json()["version"]
    dropped = await client.delete(
        "/v1/program/on-call-rota", headers={**supervisor.headers, "If-Match": f'"{version}"'}
    )
    assert dropped.status_code == 204, dropped.text
    moved = await client.patch(
        f"/v1/graduates/{graduate.graduate_id}",
        headers=supervisor.headers,
        json={"counselor_id": str(other.user_id)},
    )
    assert moved.status_code == 200

    mine = [
        (e["action"], e["resource"], e["resource_id"], e["graduate_id"])
        for e in reversed(await _log(program, supervisor, actor_id=str(supervisor.user_id)))
    ]
    gid = str(graduate.graduate_id)
    assert [e for e in mine if e[1] != "audit"] == [
        ("create", "staff", str(counselor.user_id), None),
        ("create", "staff", str(other.user_id), None),
        ("update", "staff", str(counselor.user_id), None),
        ("update", "program_rules", str(rules.json()["version"]), None),
        ("update", "on_call_rota", str(version), None),
        ("delete", "on_call_rota", str(version), None),
        ("update", "graduate", None, gid),
        ("update", "assignment", str(other.user_id), gid),
    ]


async def _whole_log(program: Program, by: Account) -> list[dict[str, Any]]:
    """Every page: tests that moved their clocks left rows dated after this one's."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await program.client.get("/v1/audit", headers=by.headers, params=params)).json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


async def test_the_first_supervisor_made_by_the_cli_is_a_system_act(program: Program) -> None:
    supervisor = await program.supervisor()
    made = [e for e in await _whole_log(program, supervisor) if e["resource_id"] == str(supervisor.user_id)]
    assert [(e["action"], e["resource"], e["actor_role"], e["actor_id"]) for e in made] == [
        ("create", "staff", "system", None)
    ]


async def test_opening_the_alert_stream_is_an_audited_staff_read(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    hub = AlertEventHub(program.app.state.session_factory, StreamConfig())
    principal = Principal(
        user_id=counselor.user_id, role="counselor", expires_at=program.clock.now() + timedelta(minutes=5)
    )
    stream = alert_stream(hub, principal, resume_after=None, clock=program.clock)
    first = await anext(stream)  # the "connected" comment: the row is committed before it
    assert first.comment == "connected"
    await stream.aclose()
    rows = await _log(program, supervisor, actor_id=str(counselor.user_id))
    assert [(e["action"], e["resource"], e["actor_role"]) for e in rows] == [
        ("read", "alert_stream", "counselor")
    ]


async def test_the_log_pages_newest_first_and_filters_by_actor_graduate_and_time(program: Program) -> None:
    client, clock = program.client, program.clock
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduates = []
    for _ in range(3):
        graduates.append(await program.graduate(counselor))
        clock.advance(minutes=10)
    for graduate in graduates:
        assert (
            await client.get(f"/v1/graduates/{graduate.graduate_id}", headers=counselor.headers)
        ).status_code == 200
        clock.advance(minutes=1)

    everything: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/audit", headers=supervisor.headers, params=params)).json()
        everything += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    keys = [(e["at"], e["id"]) for e in everything]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys), "newest first, no repeats"
    assert {e["resource"] for e in everything} >= {"staff", "graduate"}

    first = graduates[0]
    about_first = await _log(program, supervisor, graduate_id=str(first.graduate_id))
    assert about_first and all(e["graduate_id"] == str(first.graduate_id) for e in about_first)
    by_counselor = await _log(program, supervisor, actor_id=str(counselor.user_id))
    assert by_counselor and all(e["actor_id"] == str(counselor.user_id) for e in by_counselor)
    reads = [e for e in by_counselor if e["action"] == "read"]
    window = {"from": reads[1]["at"], "to": reads[0]["at"]}  # the middle read: from inclusive, to exclusive
    assert [e["id"] for e in await _log(program, supervisor, actor_id=str(counselor.user_id), **window)] == [
        reads[1]["id"]
    ]


async def test_reading_the_log_is_for_supervisors_and_is_itself_audited(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    assert (await program.client.get("/v1/audit", headers=counselor.headers)).status_code == 403
    assert (await program.client.get("/v1/audit")).status_code == 401
    request_id = f"audit-read-{uuid.uuid4().hex}"
    await program.client.get("/v1/audit", headers={**supervisor.headers, "X-Request-ID": request_id})
    rows = await _log(program, supervisor, actor_id=str(supervisor.user_id))
    assert any(e["resource"] == "audit" and e["request_id"] == request_id for e in rows)


async def test_bad_filters_are_422_and_bad_cursors_400(program: Program) -> None:
    supervisor = await program.supervisor()
    for params, status in [
        ({"from": "2026-11-24T18:00:00Z", "to": "2026-11-24T17:00:00Z"}, 422),
        ({"from": "0001-01-01T00:00:00Z"}, 422),
        ({"actor_id": "not-a-uuid"}, 422),
        ({"cursor": "bm9wZQ"}, 400),
        ({"limit": 0}, 422),
    ]:
        response = await program.client.get("/v1/audit", headers=supervisor.headers, params=params)
        assert response.status_code == status, (params, response.text)
