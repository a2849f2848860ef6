"""The plan over HTTP: ETag/If-Match, who edits what, history, templates, bad input, audit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import msgspec
from litestar import Litestar
from sqlalchemy import select

from aftercare.audit.models import AuditEvent
from tests.plans.conftest import Cast, create_plan, typical_plan

Client = httpx.AsyncClient
SECTIONS = (
    "therapy",
    "support_groups",
    "coping_skills",
    "triggers",
    "warning_signs",
    "medications",
    "support_contacts",
    "goals",
    "crisis_plan",
)


def with_if_match(cast_headers: dict[str, str], version: int | str) -> dict[str, str]:
    tag = version if version == "*" else f'"{version}"'
    return {**cast_headers, "If-Match": str(tag)}


def sections_of(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in SECTIONS}


async def test_create_read_replace_with_etags(client: Client, cast: Cast) -> None:
    missing = await client.get(cast.plan_url, headers=cast.counselor.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    created = await client.put(cast.plan_url, headers=cast.counselor.headers, json=typical_plan())
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.json()["version"] == 1
    assert created.json()["updated_by"] == str(cast.counselor.user_id)

    read = await client.get(cast.plan_url, headers=cast.graduate.headers)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert sections_of(read.json()) == sections_of(typical_plan())
    assert read.json()["updated_at"] == "2026-11-24T18:00:00Z"

    edited = typical_plan()
    edited["goals"][0]["text"] = "Thirty meetings in thirty days"
    replaced = await client.put(cast.plan_url, headers=with_if_match(cast.counselor.headers, 1), json=edited)
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"2"'
    assert (await client.get(cast.plan_url, headers=cast.counselor.headers)).json()["goals"][0]["text"] == (
        "Thirty meetings in thirty days"
    )

    star = await client.put(
        cast.plan_url, headers=with_if_match(cast.counselor.headers, "*"), json=typical_plan()
    )
    assert star.status_code == 200
    assert star.headers["etag"] == '"3"'


async def test_precondition_matrix(client: Client, cast: Cast) -> None:
    headers = cast.counselor.headers
    no_plan_if_match = await client.put(cast.plan_url, headers=with_if_match(headers, 1), json=typical_plan())
    assert no_plan_if_match.status_code == 412
    created = await client.put(cast.plan_url, headers={**headers, "If-None-Match": "*"}, json=typical_plan())
    assert created.status_code == 201

    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 428, "/problems/precondition-required"),
        ({"If-None-Match": "*"}, 412, "/problems/stale-version"),
        ({"If-Match": '"7"'}, 412, "/problems/stale-version"),
        ({"If-Match": 'W/"1"'}, 412, "/problems/stale-version"),  # If-Match compares strongly
        ({"If-Match": "1"}, 412, "/problems/stale-version"),  # an ETag is quoted
    ]
    for extra, status, problem in cases:
        response = await client.put(cast.plan_url, headers={**headers, **extra}, json=typical_plan())
        assert response.status_code == status, (extra, response.text)
        assert response.json()["type"] == problem
    listed = await client.put(cast.plan_url, headers={**headers, "If-Match": '"5", "1"'}, json=typical_plan())
    assert listed.status_code == 200
    assert (await client.get(cast.plan_url, headers=headers)).headers["etag"] == '"2"'


async def test_concurrent_replacements_one_wins(client: Client, cast: Cast) -> None:
    await create_plan(client, cast)
    first, second = typical_plan(), typical_plan()
    first["goals"][0]["text"] = "first writer"
    second["goals"][0]["text"] = "second writer"
    headers = with_if_match(cast.counselor.headers, 1)
    responses = await asyncio.gather(
        client.put(cast.plan_url, headers=headers, json=first),
        client.put(cast.plan_url, headers=headers, json=second),
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    stored = (await client.get(cast.plan_url, headers=cast.counselor.headers)).json()
    assert stored["version"] == 2
    assert stored["goals"][0]["text"] == winner["goals"][0]["text"]


async def test_graduate_edits_self_managed_sections_only(client: Client, cast: Cast) -> None:
    await create_plan(client, cast)
    own = typical_plan()
    own["goals"].append({"id": "goal-mine", "text": "Call my sister every Sunday"})
    own["coping_skills"][0]["instructions"] = "Box breathing, four counts each"
    ok = await client.put(cast.plan_url, headers=with_if_match(cast.graduate.headers, 1), json=own)
    assert ok.status_code == 200, ok.text
    assert ok.json()["updated_by"] == str(cast.graduate.user_id)

    staff_edit = typical_plan()
    staff_edit["therapy"][0]["provider"] = "Someone else"
    del staff_edit["crisis_plan"]  # omitted counts as changed
    refused = await client.put(
        cast.plan_url, headers=with_if_match(cast.graduate.headers, 2), json=staff_edit
    )
    assert refused.status_code == 403
    assert refused.json()["sections"] == ["therapy", "crisis_plan"]
    assert (await client.get(cast.plan_url, headers=cast.graduate.headers)).headers["etag"] == '"2"'


async def test_graduate_may_start_a_plan_of_self_managed_sections(client: Client, cast: Cast) -> None:
    mine = {
        "goals": [{"id": "g1", "text": "Sleep by eleven"}],
        "warning_signs": [{"id": "w1", "description": "Pacing"}],
    }
    assert (await client.put(cast.plan_url, headers=cast.graduate.headers, json=mine)).status_code == 201
    other = await client.put(f"/v1/graduates/{uuid.uuid4()}/plan", headers=cast.graduate.headers, json=mine)
    assert other.status_code == 404

    refused = await client.put(
        cast.plan_url,
        headers=with_if_match(cast.graduate.headers, 1),
        json={**mine, **{"therapy": typical_plan()["therapy"]}},
    )
    assert refused.status_code == 403
    assert refused.json()["sections"] == ["therapy"]


async def test_history_keeps_every_version_whole(client: Client, cast: Cast) -> None:
    original = typical_plan()
    await create_plan(client, cast, original)
    second = typical_plan()
    second["goals"][0]["text"] = "Ninety in ninety"
    await client.put(cast.plan_url, headers=with_if_match(cast.counselor.headers, 1), json=second)
    third = dict(second, support_groups=second["support_groups"][:1])
    refused = await client.put(cast.plan_url, headers=with_if_match(cast.graduate.headers, 2), json=third)
    assert refused.status_code == 403
    third_staff = await client.put(
        cast.plan_url, headers=with_if_match(cast.supervisor.headers, 2), json=third
    )
    assert third_staff.status_code == 200

    listed = await client.get(f"{cast.plan_url}/versions", headers=cast.graduate.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["version"] for i in items] == [3, 2, 1]
    assert items[0]["changed_sections"] == ["support_groups"]
    assert items[0]["updated_by"] == str(cast.supervisor.user_id)
    assert items[1]["changed_sections"] == ["goals"]
    assert set(items[2]["changed_sections"]) == {n for n in SECTIONS if original[n]}
    assert listed.json()["next_cursor"] is None

    page = await client.get(f"{cast.plan_url}/versions", params={"limit": 2}, headers=cast.counselor.headers)
    assert [i["version"] for i in page.json()["items"]] == [3, 2]
    rest = await client.get(
        f"{cast.plan_url}/versions",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=cast.counselor.headers,
    )
    assert [i["version"] for i in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None

    old = await client.get(f"{cast.plan_url}/versions/1", headers=cast.counselor.headers)
    assert old.status_code == 200
    assert old.json()["version"] == 1
    assert sections_of(old.json()) == sections_of(original)
    assert (
        await client.get(f"{cast.plan_url}/versions/9", headers=cast.counselor.headers)
    ).status_code == 404
    bad_cursor = await client.get(
        f"{cast.plan_url}/versions", params={"cursor": "nope"}, headers=cast.counselor.headers
    )
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"


async def test_start_from_template(client: Client, cast: Cast) -> None:
    listed = await client.get("/v1/plan-templates", headers=cast.counselor.headers)
    assert listed.status_code == 200
    template = listed.json()["items"][0]
    assert (await client.get("/v1/plan-templates", headers=cast.graduate.headers)).status_code == 403

    unknown = await client.post(cast.plan_url, headers=cast.counselor.headers, json={"template_id": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "template_id"
    assert (await client.get(cast.plan_url, headers=cast.counselor.headers)).status_code == 404

    started = await client.post(
        cast.plan_url, headers=cast.counselor.headers, json={"template_id": template["id"]}
    )
    assert started.status_code == 201, started.text
    assert started.headers["etag"] == '"1"'
    assert sections_of(started.json()) == sections_of(typical_plan())
    again = await client.post(
        cast.plan_url, headers=cast.counselor.headers, json={"template_id": template["id"]}
    )
    assert again.status_code == 412
    by_graduate = await client.post(
        cast.plan_url, headers=cast.graduate.headers, json={"template_id": template["id"]}
    )
    assert by_graduate.status_code == 403


async def test_bad_input_leaves_the_stored_plan_untouched(client: Client, cast: Cast) -> None:
    await create_plan(client, cast)
    before = (await client.get(cast.plan_url, headers=cast.counselor.headers)).json()
    headers = with_if_match(cast.counselor.headers, 1)

    def edited(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
        body = typical_plan()
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return body

    cases: list[tuple[dict[str, Any] | bytes, int, str | None]] = [
        (edited(("therapy", 0, "schedule", "rrule"), "FREQ=HOURLY"), 422, "therapy[0].schedule.rrule"),
        (
            edited(("therapy", 0, "schedule", "rrule"), "FREQ=WEEKLY;BYDAY=TU\nDTSTART:20260101T000000"),
            422,
            "therapy[0].schedule.rrule",
        ),
        (
            edited(("support_groups", 0, "schedule", "start_local"), "2026-02-30T19:00"),
            422,
            "support_groups[0].schedule.start_local",
        ),
        (
            edited(("triggers", 0, "coping_skill_ids"), ["no-such-skill"]),
            422,
            "triggers[0].coping_skill_ids[0]",
        ),
        (edited(("triggers", 0, "category"), "weather"), 422, "triggers[0].category"),
        (edited(("goals", 0, "colour"), "blue"), 422, "goals[0].colour"),
        (edited(("goals", 1, "id"), typical_plan()["goals"][0]["id"]), 422, "goals[1].id"),
        (
            edited(("therapy", 0, "reminder_minutes_before"), [10081]),
            422,
            "therapy[0].reminder_minutes_before[0]",
        ),
        (edited(("warning_signs", 0, "description"), "x" * 201), 422, "warning_signs[0].description"),
        (msgspec.json.encode(edited(("goals", 0, "text"), "y" * 200)) + b" " * (1024 * 1024), 413, None),
        (b'{"goals": [', 400, None),
    ]
    for body, status, field in cases:
        if isinstance(body, bytes):
            response = await client.put(
                cast.plan_url, headers={**headers, "Content-Type": "application/json"}, content=body
            )
        else:
            response = await client.put(cast.plan_url, headers=headers, json=body)
        assert response.status_code == status, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert field in [e["field"] for e in response.json()["errors"]], response.text
    stale = await client.put(
        cast.plan_url,
        headers=with_if_match(cast.counselor.headers, 0),
        json=edited(("goals", 0, "text"), "stale edit"),
    )
    assert stale.status_code == 412

    after = await client.get(cast.plan_url, headers=cast.counselor.headers)
    assert after.headers["etag"] == '"1"'
    assert after.json() == before
    versions = (await client.get(f"{cast.plan_url}/versions", headers=cast.counselor.headers)).json()
    assert [v["version"] for v in versions["items"]] == [1]


async def test_staff_reads_and_every_write_are_audited(client: Client, cast: Cast, app: Litestar) -> None:
    await create_plan(client, cast)
    await client.get(cast.plan_url, headers=cast.graduate.headers)
    await client.get(cast.plan_url, headers=cast.counselor.headers)
    await client.get(f"{cast.plan_url}/versions/1", headers=cast.supervisor.headers)
    await client.put(cast.plan_url, headers=with_if_match(cast.graduate.headers, 1), json=typical_plan())
    async with app.state.session_factory() as session:
        rows = (
            await session.execute(
                select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.resource, AuditEvent.resource_id)
                .where(
                    AuditEvent.graduate_id == cast.graduate.graduate_id,
                    AuditEvent.resource.in_(("plan", "plan_versions")),
                )
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (cast.counselor.user_id, "create", "plan", "1"),
        (cast.counselor.user_id, "read", "plan", None),
        (cast.supervisor.user_id, "read", "plan_versions", None),
        (cast.graduate.user_id, "update", "plan", "2"),
    ]
