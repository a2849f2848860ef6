"""Group-committed check-ins, on both engines: a batch decides each submission exactly as if they
had come one at a time, a refused submission leaves nothing in its batch, and a batch that fails
is written again one submission at a time, so one submission's failure is only its own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from aftercare.alerts.models import Alert, AlertEvent
from aftercare.alerts.service import AlertChanges
from aftercare.audit.models import AuditEvent
from aftercare.auth.principal import Principal
from aftercare.checkins.models import Checkin
from aftercare.checkins.schemas import CheckinCreate
from aftercare.errors import CheckinExists, IdempotencyConflict, ValidationFailed
from aftercare.flows import submit
from aftercare.graduates.models import Graduate
from aftercare.push.models import Notification
from aftercare.scheduling.models import Schedule
from tests.checkins.conftest import PLAN, Cast
from tests.conftest import Account

TODAY = date(2026, 11, 24)
# An offline week: craving climbs, mood falls, meetings stop, isolation sets in, two lapses (the
# second raises the first's alert to critical inside the same batch).
WEEK = [
    dict(
        mood=5 - min(i, 3),
        craving=2 + i,
        stress=3 + i // 2,
        attended_support=i < 3,
        isolating=i >= 4,
        used=i in (2, 5),
    )
    for i in range(7)
]


def body(day: date, **answers: Any) -> CheckinCreate:
    fields: dict[str, Any] = {
        "client_id": uuid.uuid4(),
        "local_date": day,
        "mood": 4,
        "craving": 2,
        "stress": 3,
        "used": False,
        "safety_concern": False,
    }
    fields.update(answers)
    return CheckinCreate(**fields)


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch written, to show the submissions below really shared one."""
    sizes: list[int] = []
    write_batch = submit._write_batch

    async def recording(factory: Any, batch: list[Any]) -> Any:
        sizes.append(len(batch))
        return await write_batch(factory, batch)

    monkeypatch.setattr(submit, "_write_batch", recording)
    return sizes


async def send(cast: Cast, graduate: Account, data: CheckinCreate) -> submit.Submitted:
    assert graduate.graduate_id is not None
    actor = Principal(user_id=graduate.user_id, role="graduate", graduate_id=graduate.graduate_id)
    return await submit.submit_checkin(
        cast.program.app.state.engine,
        graduate_id=graduate.graduate_id,
        data=data,
        actor=actor,
        crisis_line="988",
        now=cast.program.clock.now(),
    )


async def all_at_once(cast: Cast, graduate: Account, bodies: list[CheckinCreate]) -> list[Any]:
    return await asyncio.gather(*(send(cast, graduate, b) for b in bodies), return_exceptions=True)


async def twin_graduate(cast: Cast) -> Account:
    twin = await cast.program.graduate(cast.counselor, timezone="America/Chicago")
    response = await cast.program.client.put(
        f"/v1/graduates/{twin.graduate_id}/plan", headers=cast.counselor.headers, json=PLAN
    )
    assert response.status_code == 201
    return twin


async def stored(cast: Cast, graduate_id: uuid.UUID) -> dict[str, Any]:
    async with cast.program.app.state.session_factory() as session:
        graduate = await session.get(Graduate, graduate_id)
        assert graduate is not None
        checkins = (
            await session.scalars(
                select(Checkin).where(Checkin.graduate_id == graduate_id).order_by(Checkin.local_date)
            )
        ).all()
        alerts = (
            await session.execute(
                select(Alert.rule, Alert.severity, Alert.status).where(Alert.graduate_id == graduate_id)
            )
        ).all()
        prompts = (
            await session.execute(
                select(Schedule.stream, Schedule.local_date, Schedule.next_due_at)
                .where(Schedule.graduate_id == graduate_id)
                .order_by(Schedule.stream)
            )
        ).all()
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.graduate_id == graduate_id, AuditEvent.resource == "checkin")
        )
        events = (
            await session.execute(
                select(Alert.rule, AlertEvent.kind, AlertEvent.severity, AlertEvent.escalation_level)
                .join(Alert, Alert.id == AlertEvent.alert_id)
                .where(AlertEvent.graduate_id == graduate_id, AlertEvent.kind.not_in(("notified", "skipped")))
                .order_by(AlertEvent.id)
            )
        ).all()
        alert_ids = [
            str(i) for i in await session.scalars(select(Alert.id).where(Alert.graduate_id == graduate_id))
        ]
        pushes = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.ref_id.in_(alert_ids))
        )
    return {
        "checkins": [
            (c.local_date, c.risk_score, c.risk_level, list(c.reasons), c.aggregates_before) for c in checkins
        ],
        "aggregates": graduate.aggregates,
        "risk_level": graduate.risk_level,
        "last_checkin_date": graduate.last_checkin_date,
        "streak_days": graduate.streak_days,
        "alerts": sorted(tuple(a) for a in alerts),
        "prompts": [tuple(p) for p in prompts],
        "audited": audited,
        "events": [tuple(e) for e in events],
        "open_alerts": graduate.open_alerts,
        "pushes": pushes,
    }


async def test_an_offline_week_synced_at_once_is_judged_as_if_sent_day_by_day(
    cast: Cast, batch_sizes: list[int]
) -> None:
    days = [TODAY - timedelta(days=6 - i) for i in range(7)]
    together = await all_at_once(cast, cast.graduate, [body(day, **WEEK[i]) for i, day in enumerate(days)])
    assert max(batch_sizes) == 7
    twin = await twin_graduate(cast)
    one_by_one = [await send(cast, twin, body(day, **WEEK[i])) for i, day in enumerate(days)]

    assert [r.body.assessment for r in together] == [r.body.assessment for r in one_by_one]
    assert cast.graduate.graduate_id is not None and twin.graduate_id is not None
    mine = await stored(cast, cast.graduate.graduate_id)
    assert len(mine["checkins"]) == 7 and mine["audited"] == 7
    assert ("lapse", "critical", "open") in mine["alerts"] and mine["open_alerts"] == len(mine["alerts"])
    assert [e[:2] for e in mine["events"] if e[0] == "lapse"] == [("lapse", "opened"), ("lapse", "raised")]
    assert mine["pushes"] == len([e for e in mine["events"] if e[1] in ("opened", "raised", "reopened")])
    assert mine == await stored(cast, twin.graduate_id)


async def test_refused_and_replayed_submissions_leave_nothing_in_their_batch(
    cast: Cast, batch_sizes: list[int]
) -> None:
    earlier = body(TODAY - timedelta(days=1))
    assert (await send(cast, cast.graduate, earlier)).replayed is False
    twin = await twin_graduate(cast)
    today = body(TODAY)
    mine = [
        today,
        body(TODAY, mood=1),  # a second check-in for the same day
        body(TODAY - timedelta(days=2), triggers=["casino"]),  # not in the plan
        earlier,  # the phone retrying
        msgspec.structs.replace(earlier, mood=1),  # same client_id, other answers
        today,  # a retry of the first, in the same batch
    ]
    outcomes = await asyncio.gather(
        *(send(cast, cast.graduate, b) for b in mine), send(cast, twin, body(TODAY)), return_exceptions=True
    )
    assert max(batch_sizes) == 7

    created, same_day, unknown_trigger, replay, conflict, retry, other = outcomes
    assert isinstance(created, submit.Submitted) and created.replayed is False
    assert isinstance(same_day, CheckinExists) and same_day.extra["checkin_id"] == str(created.body.id)
    assert isinstance(unknown_trigger, ValidationFailed)
    assert (
        isinstance(replay, submit.Submitted)
        and replay.replayed
        and replay.body.local_date == earlier.local_date
    )
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(retry, submit.Submitted) and retry.replayed and retry.body == created.body
    assert isinstance(other, submit.Submitted) and other.replayed is False
    assert cast.graduate.graduate_id is not None
    state = await stored(cast, cast.graduate.graduate_id)
    assert [c[0] for c in state["checkins"]] == [TODAY - timedelta(days=1), TODAY]
    assert state["audited"] == 2


async def test_a_failing_submission_fails_alone(
    cast: Cast, batch_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = await twin_graduate(cast)
    record = AlertChanges.record

    def broken_for_one(self: AlertChanges, *, graduate_id: uuid.UUID, **fields: Any) -> Any:
        if graduate_id == cast.graduate.graduate_id:
            raise RuntimeError("a bug that only this graduate's history meets")
        return record(self, graduate_id=graduate_id, **fields)

    monkeypatch.setattr(AlertChanges, "record", broken_for_one)
    failing, fine, also_fine = await asyncio.gather(
        send(cast, cast.graduate, body(TODAY, used=True)),
        send(cast, twin, body(TODAY, used=True)),
        send(cast, twin, body(TODAY - timedelta(days=1))),
        return_exceptions=True,
    )

    assert batch_sizes == [3, 1, 1, 1]  # the batch failed, then each alone
    assert isinstance(failing, RuntimeError)
    assert isinstance(fine, submit.Submitted) and isinstance(also_fine, submit.Submitted)
    assert cast.graduate.graduate_id is not None and twin.graduate_id is not None
    mine, theirs = await stored(cast, cast.graduate.graduate_id), await stored(cast, twin.graduate_id)
    assert (mine["checkins"], mine["alerts"], mine["audited"]) == ([], [], 0)
    assert len(theirs["checkins"]) == 2 and ("lapse", "high", "open") in theirs["alerts"]
