"""The sweeper, one ``sweep(now=...)`` at a time: what it queues, when, and that concurrent or
crashed sweepers neither double nor drop an occurrence."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update

from aftercare.checkins.models import MissedDay
from aftercare.clock import FixedClock
from aftercare.flows.sweep import POISON_DELAY, ROW_LEASE, _claim, sweep
from aftercare.graduates.models import Graduate
from aftercare.push.models import Notification
from aftercare.push.webpush import PushSender
from aftercare.scheduling.models import Schedule
from tests.push.conftest import StartPushService
from tests.scheduling.conftest import Factory, add_graduate, change_graduate, inbox, rows, subscribe

NOON = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # 12:00 CST
PROMPT_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 19:00 CST


async def sweep_until(factory: Factory, graduate_id: uuid.UUID, end: datetime) -> None:
    """Sweep at each instant the graduate's rows fall due, as a worker waking on time would."""
    while True:
        async with factory() as session:
            due = await session.scalar(
                select(func.min(Schedule.next_due_at)).where(Schedule.graduate_id == graduate_id)
            )
        if due is None or due > end:
            return
        await sweep(factory, now=due, worker_id="w1")


async def test_prompts_keep_local_time_across_both_dst_changes(fresh: Factory) -> None:
    # New York: 2026-03-08 springs forward, 2026-11-01 falls back; quiet hours off to see every push.
    spring = await add_graduate(
        fresh, now=datetime(2026, 3, 7, 17, 0, tzinfo=UTC), timezone="America/New_York", quiet=None
    )
    await sweep_until(fresh, spring.id, datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    # The database is shared: leave autumn's sweeps to autumn's graduate.
    await change_graduate(fresh, spring.id, now=datetime(2026, 3, 9, 12, 0, tzinfo=UTC), status="discharged")
    autumn = await add_graduate(
        fresh, now=datetime(2026, 10, 31, 16, 0, tzinfo=UTC), timezone="America/New_York", quiet=None
    )
    await sweep_until(fresh, autumn.id, datetime(2026, 11, 2, 12, 0, tzinfo=UTC))

    def sent(found: list[Notification], kind: str) -> list[datetime]:
        return [n.created_at for n in found if n.kind == kind]

    spring_inbox, autumn_inbox = await inbox(fresh, spring.user_id), await inbox(fresh, autumn.user_id)
    assert sent(spring_inbox, "checkin_prompt") == [
        datetime(2026, 3, 8, 0, 0, tzinfo=UTC),  # Saturday 19:00 EST
        datetime(2026, 3, 8, 23, 0, tzinfo=UTC),  # Sunday 19:00 EDT
    ]
    assert sent(autumn_inbox, "checkin_prompt") == [
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),  # Saturday 19:00 EDT
        datetime(2026, 11, 2, 0, 0, tzinfo=UTC),  # Sunday 19:00 EST
    ]
    assert sent(spring_inbox, "checkin_nudge") == [
        datetime(2026, 3, 8, 2, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 1, 0, tzinfo=UTC),
    ]
    # Each prompt expires when its local day ends (23 hours long on the spring-forward day).
    assert [n.expires_at for n in spring_inbox if n.kind == "checkin_prompt"] == [
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
    ]


async def test_the_day_close_runs_the_silence_rule(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)

    report = await sweep(fresh, now=datetime(2026, 11, 25, 6, 0, tzinfo=UTC), worker_id="w1")

    assert report.closed_days == 1
    async with fresh() as session:
        missed = await session.get(MissedDay, (graduate.id, date(2026, 11, 24)))
    assert missed is not None
    close = (await rows(fresh, graduate.id))["day_close"]
    assert (close.local_date, close.next_due_at) == (
        date(2026, 11, 25),
        datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
    )


async def test_no_nudge_once_the_day_has_a_checkin(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    await sweep(fresh, now=PROMPT_AT, worker_id="w1")
    # A check-in whose cancellation raced the claim: only the graduate row says so.
    async with fresh() as session, session.begin():
        await session.execute(
            update(Graduate).where(Graduate.id == graduate.id).values(last_checkin_date=date(2026, 11, 24))
        )

    report = await sweep(fresh, now=PROMPT_AT + timedelta(hours=2), worker_id="w1")

    assert (report.queued, report.dropped) == (0, 1)
    assert [n.kind for n in await inbox(fresh, graduate.user_id)] == ["checkin_prompt"]
    assert (await rows(fresh, graduate.id))["checkin_nudge"].local_date == date(2026, 11, 25)


async def test_a_nudge_in_quiet_hours_is_recorded_as_skipped(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON, checkin_time="21:00")  # nudge at 23:00, quiet from 22:00

    await sweep(fresh, now=datetime(2026, 11, 25, 5, 0, tzinfo=UTC), worker_id="w1")

    found = {n.kind: n.status for n in await inbox(fresh, graduate.user_id)}
    assert found == {"checkin_prompt": "no_subscription", "checkin_nudge": "skipped_quiet_hours"}


async def test_concurrent_sweeps_never_take_the_same_row(fresh: Factory, backend: str) -> None:
    graduates = [await add_graduate(fresh, now=NOON) for _ in range(24)]

    reports = await asyncio.gather(
        sweep(fresh, now=PROMPT_AT, worker_id="w1", limit=5),
        sweep(fresh, now=PROMPT_AT, worker_id="w2", limit=5),
    )

    users = [g.user_id for g in graduates]
    async with fresh() as session:
        per_user = (
            await session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.user_id.in_(users), Notification.kind == "checkin_prompt")
                .group_by(Notification.user_id)
            )
        ).all()
    assert sorted(count for _, count in per_user) == [1] * 24
    assert sum(r.queued for r in reports) == 24
    if backend == "sqlite":
        # Only the holder of the leader lease sweeps SQLite.
        assert sorted(r.leader for r in reports) == [False, True]


async def test_a_dead_sweepers_rows_are_taken_over_when_its_lease_expires(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    async with fresh() as session, session.begin():
        await session.execute(update(Schedule).values(lease_owner=None))
    claimed = await _claim(fresh, now=PROMPT_AT, worker_id="killed", limit=10)  # then it died
    assert [row.graduate_id for row in claimed] == [graduate.id]

    early = await sweep(fresh, now=PROMPT_AT + timedelta(seconds=30), worker_id="w2")
    late = await sweep(fresh, now=PROMPT_AT + ROW_LEASE + timedelta(seconds=1), worker_id="w2")

    assert (early.claimed, early.queued) == (0, 0)
    assert (late.claimed, late.queued) == (1, 1)
    assert [n.kind for n in await inbox(fresh, graduate.user_id)] == ["checkin_prompt"]


async def test_a_poison_row_waits_an_hour_and_holds_nobody_up(fresh: Factory) -> None:
    healthy = await add_graduate(fresh, now=NOON)
    broken = await add_graduate(fresh, now=NOON)
    async with fresh() as session, session.begin():  # a zone the planner cannot load
        await session.execute(
            update(Graduate).where(Graduate.id == broken.id).values(timezone="Mars/Olympus")
        )

    report = await sweep(fresh, now=PROMPT_AT, worker_id="w1")

    assert (report.queued, report.poisoned) == (1, 1)
    assert [n.kind for n in await inbox(fresh, healthy.user_id)] == ["checkin_prompt"]
    prompt = (await rows(fresh, broken.id))["checkin_prompt"]
    assert (prompt.next_due_at, prompt.lease_owner) == (PROMPT_AT + POISON_DELAY, None)


async def test_discharge_stops_prompts_reminders_and_day_closes(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    await change_graduate(fresh, graduate.id, now=NOON, status="discharged")

    report = await sweep(fresh, now=PROMPT_AT + timedelta(days=3), worker_id="w1")

    assert (report.claimed, report.closed_days) == (0, 0)
    assert await inbox(fresh, graduate.user_id) == []


async def test_a_prompt_reaches_the_device_decrypted(
    fresh: Factory, start_push_service: StartPushService, push_sender: PushSender
) -> None:
    push_service = await start_push_service(FixedClock(PROMPT_AT))
    graduate = await add_graduate(fresh, now=NOON)
    await subscribe(fresh, push_service, graduate, now=NOON)

    report = await sweep(fresh, now=PROMPT_AT, worker_id="w1", sender=push_sender)

    assert report.delivery is not None and report.delivery.delivered == 1
    [push] = await push_service.wait_for(1)
    assert push.json()["type"] == "checkin_prompt"
    assert push.json()["url"] == "/checkin/2026-11-24"
    assert push.ttl == int((datetime(2026, 11, 25, 6, 0, tzinfo=UTC) - PROMPT_AT).total_seconds())


async def test_concurrent_sweeps_with_delivery_send_each_prompt_once(
    fresh: Factory, backend: str, start_push_service: StartPushService, push_sender: PushSender
) -> None:
    push_service = await start_push_service(FixedClock(PROMPT_AT))
    graduates = [await add_graduate(fresh, now=NOON) for _ in range(30)]
    for graduate in graduates:
        await subscribe(fresh, push_service, graduate, now=NOON)

    # Small batches so the two workers' schedule claims and delivery claims interleave.
    reports = await asyncio.gather(
        *(sweep(fresh, now=PROMPT_AT, worker_id=f"w{n}", limit=4, sender=push_sender) for n in (1, 2))
    )

    await push_service.wait_for(30)
    await asyncio.sleep(0.2)  # a late duplicate would have arrived by now
    ids = [push.json()["id"] for push in push_service.received]
    assert len(ids) == len(set(ids)) == 30
    assert sum(r.delivery.delivered for r in reports if r.delivery is not None) == 30
    assert sum(r.queued for r in reports) == 30
    if backend == "postgres":
        # Both took a share: the claims really ran side by side.
        assert all(r.claimed for r in reports)
