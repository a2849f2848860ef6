"""The plan service below HTTP: compare-and-set, ids ever used, re-planning, demo plans."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.principal import Principal
from aftercare.demo import seed_demo_plans
from aftercare.errors import StaleVersion, ValidationFailed
from aftercare.plans import reads, schemas, service
from aftercare.plans.templates import load_templates
from aftercare.plans.validation import validate_plan
from aftercare.scheduling.models import Schedule
from tests.conftest import T0
from tests.plans.conftest import Cast

TEMPLATE = load_templates()[0].plan


def staff(cast: Cast) -> Principal:
    return Principal(user_id=cast.counselor.user_id, role="counselor")


def with_sections(plan: schemas.PlanBody, **sections: object) -> schemas.PlanBody:
    return msgspec.structs.replace(plan, **sections)


async def put(app: Litestar, cast: Cast, body: schemas.PlanBody, *, if_match: int | None = None) -> int:
    assert cast.graduate.graduate_id
    async with app.state.session_factory() as session:
        written = await service.put_plan(
            session,
            cast.graduate.graduate_id,
            body,
            actor=staff(cast),
            now=T0,
            precondition=service.Precondition(if_match=None if if_match is None else service.etag(if_match)),
        )
    return written.plan.version


async def test_known_ids_keep_every_version(app: Litestar, cast: Cast) -> None:
    graduate_id = cast.graduate.graduate_id
    assert graduate_id
    async with app.state.session_factory() as session:
        assert await reads.current_plan_body(session, graduate_id) is None
        empty = await reads.known_plan_ids(session, graduate_id)
    assert not empty.trigger_ids and not empty.coping_skill_ids

    await put(app, cast, TEMPLATE)
    renamed = with_sections(
        TEMPLATE,
        triggers=[msgspec.structs.replace(t, id=f"{t.id}-v2") for t in TEMPLATE.triggers],
    )
    await put(app, cast, renamed, if_match=1)
    async with app.state.session_factory() as session:
        ids = await reads.known_plan_ids(session, graduate_id)
        current = await reads.current_plan_body(session, graduate_id)
    assert current == renamed
    assert ids.trigger_ids == {t.id for t in TEMPLATE.triggers} | {t.id for t in renamed.triggers}
    assert ids.coping_skill_ids == {c.id for c in TEMPLATE.coping_skills}


async def test_a_write_that_lost_the_race_is_refused_and_changes_nothing(
    app: Litestar, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare-and-set itself: the writer read version 1, another writer already made version 2."""
    await put(app, cast, TEMPLATE)
    await put(app, cast, with_sections(TEMPLATE, goals=[]), if_match=1)
    real_load = service._load_current

    async def stale_read(session: AsyncSession, graduate_id: uuid.UUID) -> object:
        current = await real_load(session, graduate_id)
        assert current is not None
        return msgspec.structs.replace(current, version=1)

    monkeypatch.setattr(service, "_load_current", stale_read)
    with pytest.raises(StaleVersion):
        await put(app, cast, with_sections(TEMPLATE, warning_signs=[]), if_match=1)
    monkeypatch.undo()
    assert cast.graduate.graduate_id
    async with app.state.session_factory() as session:
        current = await reads.current_plan_body(session, cast.graduate.graduate_id)
    assert current == with_sections(TEMPLATE, goals=[])


async def test_an_edited_schedule_is_judged_again(app: Litestar, cast: Cast) -> None:
    await put(app, cast, TEMPLATE)
    first = TEMPLATE.therapy[0]
    broken = msgspec.structs.replace(
        first, schedule=msgspec.structs.replace(first.schedule, rrule="FREQ=MINUTELY")
    )
    with pytest.raises(ValidationFailed) as refused:
        await put(app, cast, with_sections(TEMPLATE, therapy=[broken, *TEMPLATE.therapy[1:]]), if_match=1)
    assert [e.field for e in refused.value.errors] == ["therapy[0].schedule.rrule"]
    # A schedule already validated in the stored plan is trusted; the same one new is judged.
    validate_plan(TEMPLATE, validated=TEMPLATE)
    with pytest.raises(ValidationFailed):
        validate_plan(with_sections(TEMPLATE, therapy=[broken]), validated=TEMPLATE)


async def test_a_change_to_scheduled_sections_replans_in_the_same_transaction(
    app: Litestar, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    graduate_id = cast.graduate.graduate_id
    assert graduate_id
    await put(app, cast, TEMPLATE)
    async with app.state.session_factory() as session:
        streams = set(
            (await session.scalars(select(Schedule.stream).where(Schedule.graduate_id == graduate_id))).all()
        )
    assert {
        f"therapy_reminder:{TEMPLATE.therapy[0].id}:60",
        f"support_group_reminder:{TEMPLATE.support_groups[0].id}:60",
    } <= streams

    calls: list[tuple[uuid.UUID, bool]] = []

    async def record(session: AsyncSession, graduate_id: uuid.UUID, **given: Any) -> None:
        calls.append((graduate_id, session.in_transaction()))

    monkeypatch.setattr(service, "replan_graduate", record)
    await put(app, cast, with_sections(TEMPLATE, goals=[]), if_match=1)
    assert calls == []  # reminders come only from therapy, support groups and medications
    await put(app, cast, with_sections(TEMPLATE, goals=[], therapy=TEMPLATE.therapy[:1]), if_match=2)
    assert calls == [(graduate_id, True)]


async def test_demo_plans_are_the_template_made_personal(app: Litestar, cast: Cast) -> None:
    graduate_id = cast.graduate.graduate_id
    assert graduate_id
    await seed_demo_plans(app.state.session_factory, [graduate_id], now=T0)
    async with app.state.session_factory() as session, session.begin():
        body = await reads.current_plan_body(session, graduate_id)
    async with app.state.session_factory() as session:
        history = await service.list_versions(
            session, graduate_id, actor=staff(cast), limit=10, cursor=None, now=T0
        )
    assert body is not None
    assert body.therapy == TEMPLATE.therapy
    assert "goal-personal" in {g.id for g in body.goals}
    newest = history.items[0]
    assert (newest.version, newest.changed_sections) == (2, ["warning_signs", "support_contacts", "goals"])
