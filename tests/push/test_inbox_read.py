"""The inbox's read state through the real app, on both engines: ``read_at`` on each notification,
marking one or all up to an instant read, ``?unread=true`` and ``unread_count`` in ``GET /v1/me``;
and the unread count is served by the partial index made for it."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.push import service
from tests.conftest import Account, Program

UNREAD_INDEX = "ix_notifications_unread_user_id_created_at_id"


async def _notify(app: Litestar, program: Program, account: Account) -> str:
    """One notification for ``account`` created now (the app's clock); its id."""
    now = program.clock.now()
    async with app.state.session_factory() as session, session.begin():
        [notification_id] = await service.enqueue_notifications(
            session,
            [
                service.NotificationSpec(
                    user_id=account.user_id,
                    kind="checkin_prompt",
                    title="Daily check-in",
                    body="How was today?",
                    url="/checkin",
                    tag=f"checkin-{uuid.uuid4().hex[:8]}",
                    ref_id=None,
                    urgency="normal",
                    expires_at=now + timedelta(hours=6),
                    topic=None,
                )
            ],
            now=now,
        )
    return str(notification_id)


async def _unread_count(program: Program, account: Account) -> int:
    response = await program.client.get("/v1/me", headers=account.headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["unread_count"]
    return count


async def _inbox(program: Program, account: Account, **params: Any) -> dict[str, Any]:
    response = await program.client.get("/v1/me/notifications", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _z(instant: Any) -> str:
    return str(instant.isoformat().replace("+00:00", "Z"))


async def test_marking_one_notification_read(app: Litestar, program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    ids = []
    for _ in range(3):
        ids.append(await _notify(app, program, graduate))
        program.clock.advance(minutes=1)
    assert await _unread_count(program, graduate) == 3
    assert [item["read_at"] for item in (await _inbox(program, graduate))["items"]] == [None] * 3

    read_at = program.clock.now()
    path = f"/v1/me/notifications/{ids[1]}/read"
    first = await program.client.post(path, headers=graduate.headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"id": ids[1], "read_at": _z(read_at)}
    program.clock.advance(minutes=5)
    again = await program.client.post(path, headers=graduate.headers)  # idempotent: the first instant stays
    assert (again.status_code, again.json()) == (200, first.json())

    assert await _unread_count(program, graduate) == 2
    items = {item["id"]: item["read_at"] for item in (await _inbox(program, graduate))["items"]}
    assert items == {ids[0]: None, ids[1]: _z(read_at), ids[2]: None}
    unread = await _inbox(program, graduate, unread="true")
    assert [item["id"] for item in unread["items"]] == [ids[2], ids[0]]  # newest first
    everything = await _inbox(program, graduate, unread="false")
    assert len(everything["items"]) == 3

    # Someone else's notification, or none at all: 404, and nothing changes.
    for account, notification_id in ((counselor, ids[0]), (graduate, str(uuid.uuid4()))):
        refused = await program.client.post(
            f"/v1/me/notifications/{notification_id}/read", headers=account.headers
        )
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert await _unread_count(program, graduate) == 2


async def test_marking_all_read_up_to_an_instant(app: Litestar, program: Program) -> None:
    """Everything created at or before ``before`` (the newest the app has shown), only the caller's,
    counting only what this call marked; a later arrival stays unread."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    others = await _notify(app, program, counselor)
    first = await _notify(app, program, graduate)
    program.clock.advance(minutes=1)
    shown = program.clock.now()
    second = await _notify(app, program, graduate)
    program.clock.advance(minutes=1)
    later = await _notify(app, program, graduate)
    assert (
        await program.client.post(f"/v1/me/notifications/{first}/read", headers=graduate.headers)
    ).is_success

    marked = await program.client.post(
        "/v1/me/notifications/read", headers=graduate.headers, json={"before": _z(shown)}
    )
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 1}  # ``second``; ``first`` was read already
    unread = await _inbox(program, graduate, unread="true")
    assert [item["id"] for item in unread["items"]] == [later]
    assert second not in {item["id"] for item in unread["items"]}
    assert await _unread_count(program, graduate) == 1
    assert await _unread_count(program, counselor) == 1  # the counselor's own stays unread
    assert [item["id"] for item in (await _inbox(program, counselor, unread="true"))["items"]] == [others]

    again = await program.client.post(
        "/v1/me/notifications/read", headers=graduate.headers, json={"before": _z(program.clock.now())}
    )
    assert again.json() == {"marked": 1}
    assert await _unread_count(program, graduate) == 0


async def test_bad_read_requests_are_422_naming_the_field(program: Program) -> None:
    supervisor = await program.supervisor()
    for body, field in (
        ({"before": "2026-11-24T18:00:00"}, "before"),  # no offset
        ({"before": "yesterday"}, "before"),
        ({}, "before"),
    ):
        response = await program.client.post(
            "/v1/me/notifications/read", headers=supervisor.headers, json=body
        )
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
    response = await program.client.get(
        "/v1/me/notifications", headers=supervisor.headers, params={"unread": "maybe"}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["unread"]


async def test_the_unread_filter_pages_with_cursors(app: Litestar, program: Program) -> None:
    supervisor = await program.supervisor()
    ids = []
    for _ in range(3):
        ids.append(await _notify(app, program, supervisor))
        program.clock.advance(seconds=1)
    await program.client.post(f"/v1/me/notifications/{ids[1]}/read", headers=supervisor.headers)
    page = await _inbox(program, supervisor, unread="true", limit=1)
    assert [item["id"] for item in page["items"]] == [ids[2]] and page["next_cursor"]
    rest = await _inbox(program, supervisor, unread="true", limit=1, cursor=page["next_cursor"])
    assert [item["id"] for item in rest["items"]] == [ids[0]] and rest["next_cursor"] is None


async def test_the_unread_count_uses_the_partial_index(engine: AsyncEngine) -> None:
    """The count's predicate matches the partial index's, so the planner can use it (on PostgreSQL
    with sequential scans off, since a small test table would rather be scanned). SQLite chooses
    between that index and the inbox's (user_id, created_at, id) by the statistics the tests before
    left behind (``ANALYZE``), so there the count must search one of the user's indexes, never scan."""
    async with engine.connect() as connection:
        sql = str(service.UNREAD_COUNT.compile(connection))
        if engine.dialect.name == "sqlite":  # the plan does not depend on the value: any id will do
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (uuid.uuid4().hex,))
        else:
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await connection.exec_driver_sql(f"EXPLAIN {sql}", (uuid.uuid4(),))
        described = " ".join(str(value) for row in plan for value in row)
    if engine.dialect.name == "sqlite":
        assert re.search(r"SEARCH notifications USING (COVERING )?INDEX \w+ \(user_id=\?\)", described), (
            described
        )
        assert "SCAN" not in described, described
    else:
        assert UNREAD_INDEX in described, described
