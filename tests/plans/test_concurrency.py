"""Concurrent plan writes through the service: with the checks on a snapshot and the compare-and-set
in the write transaction, racing writers never overwrite each other, on either engine."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Litestar
from sqlalchemy import func, select

from aftercare.errors import StaleVersion
from aftercare.plans import models, schemas, service
from aftercare.plans.templates import load_templates
from tests.conftest import T0
from tests.plans.conftest import Cast
from tests.plans.test_service import put, staff

TEMPLATE = load_templates()[0].plan


def _with_goal(text: str) -> schemas.PlanBody:
    return msgspec.structs.replace(TEMPLATE, goals=[msgspec.structs.replace(TEMPLATE.goals[0], text=text)])


async def _history_length(app: Litestar, cast: Cast) -> int:
    async with app.state.session_factory() as session, session.begin():
        count = await session.scalar(
            select(func.count())
            .select_from(models.PlanVersion)
            .where(models.PlanVersion.graduate_id == cast.graduate.graduate_id)
        )
    return int(count or 0)


async def test_of_twenty_writers_with_the_same_if_match_exactly_one_wins(app: Litestar, cast: Cast) -> None:
    await put(app, cast, TEMPLATE)
    results = await asyncio.gather(
        *(put(app, cast, _with_goal(f"goal {n}"), if_match=1) for n in range(20)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["StaleVersion"] * 19 + ["int"]
    assert [r for r in results if isinstance(r, int)] == [2]
    assert await _history_length(app, cast) == 2


async def test_every_edit_of_writers_that_reread_and_retry_survives(app: Litestar, cast: Cast) -> None:
    """Ten editors each save once, re-reading after a 412: ten new versions, none lost."""
    await put(app, cast, TEMPLATE)
    graduate_id = cast.graduate.graduate_id
    assert graduate_id

    async def edit(n: int) -> None:
        while True:
            async with app.state.session_factory() as session:
                seen = await service.get_plan(session, graduate_id, actor=staff(cast), now=T0)
                try:
                    await service.put_plan(
                        session,
                        graduate_id,
                        _with_goal(f"edit {n}"),
                        actor=staff(cast),
                        now=T0,
                        precondition=service.Precondition(if_match=service.etag(seen.version)),
                    )
                    return
                except StaleVersion:
                    continue

    await asyncio.gather(*(edit(n) for n in range(10)))
    assert await _history_length(app, cast) == 11
