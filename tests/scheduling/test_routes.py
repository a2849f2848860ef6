"""``GET /v1/graduates/{id}/reminders`` through the app: the planner's future, the inbox's past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from aftercare.clock import FixedClock
from aftercare.flows.sweep import sweep
from tests.conftest import T0, Program
from tests.scheduling.conftest import Factory

PROMPT_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 19:00 in Chicago, where T0 is noon


async def reminders(
    client: AsyncTestClient[Litestar], headers: dict[str, str], graduate_id: Any, **params: str
) -> Any:
    response = await client.get(f"/v1/graduates/{graduate_id}/reminders", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_lists_the_coming_week_in_the_graduates_local_time(
    fresh: Factory, program: Program, client: AsyncTestClient[Litestar]
) -> None:
    counselor = await program.staff(await program.supervisor())
    graduate = await program.graduate(counselor, timezone="America/Chicago")

    items = await reminders(client, graduate.headers, graduate.graduate_id)

    assert items[0] == {
        "kind": "checkin_prompt",
        "due_at": "2026-11-25T01:00:00Z",
        "local_time": "2026-11-24T19:00",
        "utc_offset": "-06:00",
        "title": "Time for your daily check-in",
        "status": "planned",
    }
    assert items[1]["kind"] == "checkin_nudge" and items[1]["local_time"] == "2026-11-24T21:00"
    assert [i["local_time"][11:] for i in items if i["kind"] == "checkin_prompt"] == ["19:00"] * 7
    assert all(T0 <= datetime.fromisoformat(i["due_at"]) < T0 + timedelta(days=7) for i in items)


async def test_the_past_comes_from_the_inbox(
    fresh: Factory, program: Program, client: AsyncTestClient[Litestar], clock: FixedClock, app: Litestar
) -> None:
    counselor = await program.staff(await program.supervisor())
    graduate = await program.graduate(counselor, timezone="America/Chicago")
    await sweep(app.state.session_factory, now=PROMPT_AT, worker_id="w1")
    clock.set(PROMPT_AT + timedelta(hours=1))

    items = await reminders(
        client,
        counselor.headers,
        graduate.graduate_id,
        **{"from": "2026-11-24T18:00:00Z", "to": "2026-11-25T04:00:00Z"},
    )

    assert [(i["kind"], i["due_at"], i["status"]) for i in items] == [
        ("checkin_prompt", "2026-11-25T01:00:00Z", "no_subscription"),  # sent: no device subscribed
        ("checkin_nudge", "2026-11-25T03:00:00Z", "planned"),
    ]
    async with app.state.session_factory() as session:
        audited = await session.scalar(
            select(AuditEvent.actor_id).where(
                AuditEvent.resource == "reminders", AuditEvent.graduate_id == graduate.graduate_id
            )
        )
    assert audited == counselor.user_id


async def test_a_range_too_long_or_without_offset_is_422(
    fresh: Factory, program: Program, client: AsyncTestClient[Litestar]
) -> None:
    counselor = await program.staff(await program.supervisor())
    graduate = await program.graduate(counselor)
    path = f"/v1/graduates/{graduate.graduate_id}/reminders"

    too_long = await client.get(
        path, headers=graduate.headers, params={"from": "2026-11-24T00:00:00Z", "to": "2026-12-29T00:00:01Z"}
    )
    naive = await client.get(path, headers=graduate.headers, params={"from": "2026-11-24T00:00:00"})
    backwards = await client.get(
        path, headers=graduate.headers, params={"from": "2026-11-24T00:00:00Z", "to": "2026-11-23T00:00:00Z"}
    )

    # Not an instant at all: Litestar refuses it before the service, by the name the client sent.
    garbled = await client.get(path, headers=graduate.headers, params={"to": "next week"})

    for response, field in ((too_long, "to"), (naive, "from"), (backwards, "to"), (garbled, "to")):
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
