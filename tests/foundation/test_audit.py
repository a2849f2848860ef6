"""The audit trail: every staff read and every write of a graduate's data, with who, what, which
graduate and the request id; never the data itself; graduates reading their own record are not audited."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from tests.conftest import Program


async def _audit_rows(program: Program, request_id: str) -> list[AuditEvent]:
    async with program.app.state.session_factory() as session:
        return list(
            (await session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id))).all()
        )


async def _call(program: Program, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> str:
    request_id = f"audit-{uuid.uuid4().hex}"
    response = await program.client.request(
        method, url, headers={**headers, "X-Request-ID": request_id}, **kwargs
    )
    assert response.status_code < 300, response.text
    assert response.headers["x-request-id"] == request_id
    return request_id


async def test_staff_reads_and_writes_are_audited_without_personal_data(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, display_name="Casey Secretname")
    gid = graduate.graduate_id
    url = f"/v1/graduates/{gid}"
    cases = [
        ("GET", url, counselor, {}, "read", "graduate", gid),
        ("PATCH", url, counselor, {"json": {"display_name": "Casey Othername"}}, "update", "graduate", gid),
        ("PATCH", url, graduate, {"json": {"checkin_time": "18:15"}}, "update", "graduate", gid),
        ("POST", f"{url}/enrollment-code", supervisor, {}, "create", "enrollment_code", gid),
        ("GET", "/v1/graduates", counselor, {}, "read", "caseload", None),
    ]
    for method, target, actor, kwargs, action, resource, graduate_id in cases:
        request_id = await _call(program, method, target, actor.headers, **kwargs)
        rows = await _audit_rows(program, request_id)
        assert len(rows) == 1, (method, target)
        row = rows[0]
        assert (row.actor_id, row.actor_role) == (actor.user_id, actor.role)
        assert (row.action, row.resource, row.graduate_id) == (action, resource, graduate_id)
        assert row.at == program.clock.now()
        values = " ".join(str(getattr(row, column.key)) for column in AuditEvent.__table__.columns)
        for personal in ("Casey", "Secretname", "Othername", graduate.email, counselor.email, "18:15"):
            assert personal not in values

    created_id = f"audit-{uuid.uuid4().hex}"
    response = await program.client.post(
        "/v1/graduates",
        headers={**counselor.headers, "X-Request-ID": created_id},
        json={"display_name": "Morgan Hidden", "timezone": "America/Chicago"},
    )
    rows = await _audit_rows(program, created_id)
    assert [(r.action, r.resource, str(r.graduate_id)) for r in rows] == [
        ("create", "graduate", response.json()["id"])
    ]


async def test_graduate_reading_own_record_is_not_audited(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    request_id = await _call(program, "GET", f"/v1/graduates/{graduate.graduate_id}", graduate.headers)
    assert await _audit_rows(program, request_id) == []


async def test_refused_writes_leave_no_audit_row(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    request_id = f"audit-{uuid.uuid4().hex}"
    response = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}",
        headers={**counselor.headers, "X-Request-ID": request_id},
        json={"timezone": "Mars/Olympus"},
    )
    assert response.status_code == 422
    assert await _audit_rows(program, request_id) == []
