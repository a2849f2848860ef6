"""The sweep: claim due schedule rows, act on them (prompts, reminders, day closes and silence, and
the discharges due at a day's close: ``flows.discharge``), advance them; then escalations and
deliveries.

One step, ``sweep(session_factory, now=..., worker_id=...)``, is all APScheduler ever calls, and all
tests call (one step at a time, with a fixed clock). Safety comes from the database, not from the
scheduler (DESIGN, "Claims are one conditional statement"):

* The claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`` that sets
  a lease, so concurrent sweepers on PostgreSQL never take the same row, and the rows of a sweeper
  killed mid-batch come back when its lease expires. SQLite has no ``SKIP LOCKED``: there a leader
  lease row lets only one process sweep at all.
* A claimed batch is acted on in one transaction that first re-reads the rows under lock and keeps
  only those whose lease this worker still holds and whose occurrence is unchanged (a check-in or a
  re-plan may have moved it meanwhile): the inbox rows, the advanced ``next_due_at`` and the released
  lease commit together, so an occurrence is queued once or, after a crash, not at all and claimed
  again.
* A batch that fails is retried one row per transaction; a row that fails alone (a poison row) is
  pushed an hour ahead and logged by id, so it cannot crash-loop the sweeper or hold up the others.

Set-based per batch because 100,000 prompts can fall due in one minute (bench/prompt_bench.py):
one commit per row would be one fsync per row on SQLite. A batch's inbox rows and deliveries are two
INSERTs (``push.service.enqueue_notifications``), its advanced rows one executemany.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.alerts import service as alerts_service
from aftercare.alerts.service import AlertChanges
from aftercare.checkins import service as checkins
from aftercare.clock import Clock
from aftercare.db.faults import database_unavailable
from aftercare.flows.discharge import discharge_due, discharge_if_due
from aftercare.graduates.models import Graduate
from aftercare.i18n import Locale, _, translate
from aftercare.plans.reads import current_plan_body
from aftercare.program.service import current_rules
from aftercare.push.mail import MailSender
from aftercare.push.service import (
    DeliveryReport,
    NotificationSpec,
    deliver_due,
    dose_of,
    enqueue_notifications,
)
from aftercare.push.webpush import PushSender, make_topic
from aftercare.rules.aggregates import Aggregates
from aftercare.rules.config import ProgramRules
from aftercare.rules.engine import assess_silence
from aftercare.scheduling.models import Lease, Schedule
from aftercare.scheduling.planner import (
    NUDGE_STREAM,
    PROMPT_STREAM,
    GraduateSchedule,
    ScheduledItem,
    items_from_plan,
)
from aftercare.scheduling.service import (
    DAY_CLOSE_STREAM,
    SCHEDULE_COLUMNS,
    checked_in,
    next_day_close,
    next_live,
    occurrence_values,
    schedule_of,
)

logger = logging.getLogger(__name__)
_Row = Row[*tuple[Any, ...]]

# A batch is database work only (no network), seconds at most; the lease only has to outlive that.
ROW_LEASE = timedelta(minutes=2)
# Shorter than a row lease, so a successor that takes over the leader lease also finds the dead
# sweeper's rows free; renewed every batch.
LEADER_LEASE = timedelta(seconds=60)
LEADER_LEASE_NAME = "sweeper"
POISON_DELAY = timedelta(hours=1)

_CLAIMED = (
    Schedule.id,
    Schedule.graduate_id,
    Schedule.stream,
    Schedule.kind,
    Schedule.planned_at,
    Schedule.occurrence_key,
    Schedule.local_date,
    Schedule.title,
    Schedule.deadline,
    Schedule.status,
    Schedule.item_id,
    Schedule.event_at,
)
# Rendered in the graduate's language when the push is queued (``_notification``).
_BODIES = {
    "checkin_prompt": _("How was today? It takes a minute."),
    "checkin_nudge": _("A minute now keeps your streak going."),
    "therapy_reminder": _("Open Aftercare for the details."),
    "support_group_reminder": _("Open Aftercare for the details."),
    "medication_reminder": _("Open Aftercare to mark it taken."),
}
# Short, fixed names for Topics: one kind per recipient and day collapses while undelivered.
_TOPIC_KIND = {
    "checkin_prompt": "prompt",
    "checkin_nudge": "nudge",
    "therapy_reminder": "therapy",
    "support_group_reminder": "group",
    "medication_reminder": "medication",
}


class SweepReport(msgspec.Struct, kw_only=True):
    leader: bool = True
    """False on SQLite when another process holds the sweeper lease: nothing was done."""
    claimed: int = 0
    queued: int = 0
    """Inbox rows written (pushes queued, or recorded as skipped for quiet hours)."""
    dropped: int = 0
    """Occurrences not pushed: a check-in came first, no enrolled account, or past their deadline."""
    closed_days: int = 0
    discharged: int = 0
    """Graduates discharged at the start of their discharge date (the close of the day before)."""
    poisoned: int = 0
    stale: int = 0
    """Claimed rows another writer moved before this sweeper acted (left to that writer)."""
    escalated: int = 0
    delivery: DeliveryReport | None = None
    """What ``push.service.deliver_due`` did, when a sender was given."""


async def sweep(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    worker_id: str,
    limit: int = 500,
    sender: PushSender | None = None,
    clock: Clock | None = None,
    mailer: MailSender | None = None,
) -> SweepReport:
    """Act on every schedule row due at ``now`` (claimed ``limit`` at a time until none are left),
    escalate due alerts and, given a ``sender``, deliver due pushes meanwhile. ``clock`` (the
    Sweeper's) is read before each later claim, so a lease taken late in a long sweep is measured
    from when it was taken; without one every claim is at ``now``.

    Deliveries start with the first committed batch instead of after the last: 100,000 prompts due
    in one minute spend their time sending, and the schedule work hides behind it."""
    report = SweepReport()
    at = clock.now if clock is not None else lambda: now
    sqlite = _dialect(session_factory) == "sqlite"
    queued = asyncio.Event()

    async def leading(claim_at: datetime) -> bool:
        if sqlite and not await _hold_leader_lease(session_factory, now=claim_at, worker_id=worker_id):
            report.leader = False
        return report.leader

    async def schedule() -> None:
        claim_at = now
        while True:
            if not await leading(claim_at):
                return
            claimed = await _claim(session_factory, now=claim_at, worker_id=worker_id, limit=limit)
            report.claimed += len(claimed)
            if claimed:
                await _act_on_batch(
                    session_factory, claimed, now=claim_at, worker_id=worker_id, report=report
                )
                queued.set()
            if len(claimed) < limit:
                break
            claim_at = at()
        report.escalated = await escalate_due_alerts(session_factory, now=claim_at, limit=limit)

    if sender is None:
        await schedule()
        return report
    if not await leading(now):  # SQLite: neither sweep nor deliver beside the leader
        return report
    scheduling = asyncio.create_task(schedule())
    try:
        report.delivery = await _deliver_all(
            session_factory,
            sender,
            scheduling,
            queued,
            now=now,
            at=at,
            worker_id=worker_id,
            limit=limit,
            report=report,
            mailer=mailer,
        )
    except BaseException:
        # Delivery failed (the database went away, or this task was cancelled): stop the schedule
        # side and collect its outcome, so its own error is not reported a second time by asyncio
        # as "Task exception was never retrieved"; the delivery error is the one raised.
        scheduling.cancel()
        await asyncio.wait({scheduling})
        if not scheduling.cancelled():
            scheduling.exception()
        raise
    await scheduling  # its exception, if any
    return report


async def _deliver_all(
    session_factory: async_sessionmaker[AsyncSession],
    sender: PushSender,
    scheduling: asyncio.Task[None],
    queued: asyncio.Event,
    *,
    now: datetime,
    at: Callable[[], datetime],
    worker_id: str,
    limit: int,
    report: SweepReport,
    mailer: MailSender | None = None,
) -> DeliveryReport:
    """Deliver until nothing due is left once the schedule work is done: each round claims until a
    claim comes back short (what failed is rescheduled later than its claim, so a round ends), then
    waits for the schedule side to commit more."""
    total = DeliveryReport()
    start_at = now
    while True:
        queued.clear()
        last_round = scheduling.done()
        batch = await deliver_due(
            session_factory,
            sender,
            now=start_at,
            worker_id=worker_id,
            limit=limit,
            batches=None,
            clock=at,
            mailer=mailer,
        )
        total = DeliveryReport(
            **{name: getattr(total, name) + getattr(batch, name) for name in DeliveryReport.__struct_fields__}
        )
        if last_round or not report.leader:
            return total
        more = asyncio.ensure_future(queued.wait())
        await asyncio.wait({scheduling, more}, return_when=asyncio.FIRST_COMPLETED)
        more.cancel()
        start_at = at()


def _dialect(session_factory: async_sessionmaker[AsyncSession]) -> str:
    return str(session_factory.kw["bind"].dialect.name)


async def _hold_leader_lease(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, worker_id: str
) -> bool:
    """Take or renew the sweeper lease; True if this worker holds it. One statement, so two
    processes starting together cannot both win."""
    statement = sqlite_insert(Lease).values(name=LEADER_LEASE_NAME, owner=worker_id, until=now + LEADER_LEASE)
    statement = statement.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"owner": statement.excluded.owner, "until": statement.excluded.until},
        where=or_(Lease.owner == worker_id, Lease.until < now),
    )
    async with session_factory() as session, session.begin():
        await session.execute(statement)
        owner = await session.scalar(select(Lease.owner).where(Lease.name == LEADER_LEASE_NAME))
    return owner == worker_id


async def release_leader_lease(session_factory: async_sessionmaker[AsyncSession], *, worker_id: str) -> None:
    """Let a successor sweep at once instead of after the lease runs out (a clean shutdown)."""
    async with session_factory() as session, session.begin():
        await session.execute(delete(Lease).where(Lease.name == LEADER_LEASE_NAME, Lease.owner == worker_id))


async def _claim(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, worker_id: str, limit: int
) -> Sequence[_Row]:
    free = or_(Schedule.lease_until.is_(None), Schedule.lease_until < now)
    due = (
        select(Schedule.id)
        .where(Schedule.next_due_at <= now, free)
        .order_by(Schedule.next_due_at)
        .limit(limit)
        # Renders nothing on SQLite, where the leader lease already keeps sweepers apart.
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Schedule)
        .where(Schedule.id.in_(due.scalar_subquery()), free)
        .values(lease_owner=worker_id, lease_until=now + ROW_LEASE)
        .returning(*_CLAIMED)
        .execution_options(synchronize_session=False)
    )
    async with session_factory() as session, session.begin():
        return (await session.execute(statement)).all()


async def _act_on_batch(
    session_factory: async_sessionmaker[AsyncSession],
    claimed: Sequence[_Row],
    *,
    now: datetime,
    worker_id: str,
    report: SweepReport,
) -> None:
    try:
        async with session_factory() as session, session.begin():
            counts = await _act(session, claimed, now=now, worker_id=worker_id)
    except Exception as exc:
        if database_unavailable(exc):
            raise  # not the rows' fault: their leases run out and they are claimed again
        logger.warning("schedule batch of %d rows failed; retrying row by row", len(claimed))
    else:
        _add(report, counts)
        return
    for row in claimed:
        try:
            async with session_factory() as session, session.begin():
                counts = await _act(session, [row], now=now, worker_id=worker_id)
        except Exception as exc:
            if database_unavailable(exc):
                raise  # never postpone a sound row by an hour for an outage
            # Ids and the exception's type only: its text may carry a graduate's data.
            logger.error(
                "schedule row %s (graduate %s, %s) failed with %s; retrying in an hour",
                row.id,
                row.graduate_id,
                row.kind,
                type(exc).__name__,
            )
            await _postpone(session_factory, row.id, now=now, worker_id=worker_id)
            report.poisoned += 1
        else:
            _add(report, counts)


def _add(report: SweepReport, counts: dict[str, int]) -> None:
    for name, count in counts.items():
        setattr(report, name, getattr(report, name) + count)


async def _postpone(
    session_factory: async_sessionmaker[AsyncSession], row_id: uuid.UUID, *, now: datetime, worker_id: str
) -> None:
    async with session_factory() as session, session.begin():
        await session.execute(
            update(Schedule)
            .where(Schedule.id == row_id, Schedule.lease_owner == worker_id)
            .values(next_due_at=now + POISON_DELAY, lease_owner=None, lease_until=None, updated_at=now)
        )


async def _act(
    session: AsyncSession, claimed: Sequence[_Row], *, now: datetime, worker_id: str
) -> dict[str, int]:
    counts = {"queued": 0, "dropped": 0, "closed_days": 0, "discharged": 0, "stale": 0}
    held = await _still_held(session, claimed, worker_id=worker_id)
    rows = [row for row in claimed if (row.id, row.planned_at, row.occurrence_key) in held]
    # Day closes first: one may discharge its graduate, whose other rows then send nothing.
    rows.sort(key=lambda row: row.stream != DAY_CLOSE_STREAM)
    counts["stale"] = len(claimed) - len(rows)
    if not rows:
        return counts
    graduates = {
        graduate.id: graduate
        for graduate in (
            await session.execute(
                select(*SCHEDULE_COLUMNS, Graduate.discharge_date).where(
                    Graduate.id.in_({row.graduate_id for row in rows})
                )
            )
        ).all()
    }
    rules = await current_rules(session)
    nudge_after_minutes = rules.nudge_after_minutes
    items: dict[uuid.UUID, tuple[ScheduledItem, ...]] = {}
    advanced: list[dict[str, Any]] = []
    finished: list[uuid.UUID] = []
    queued: list[NotificationSpec] = []
    discharged: set[uuid.UUID] = set()
    for row in rows:
        graduate = graduates.get(row.graduate_id)
        schedule = schedule_of(graduate, nudge_after_minutes=nudge_after_minutes) if graduate else None
        if (
            graduate is None
            or schedule is None
            or schedule.status == "discharged"
            or row.graduate_id in discharged
        ):
            finished.append(row.id)
            continue
        done = checked_in(graduate.last_checkin_date)
        if row.stream == DAY_CLOSE_STREAM:
            await close_day(
                session, graduate_id=row.graduate_id, local_date=row.local_date, rules=rules, now=now
            )
            counts["closed_days"] += 1
            if discharge_due(graduate.discharge_date, closed_day=row.local_date) and await discharge_if_due(
                session, graduate_id=row.graduate_id, closed_day=row.local_date, now=now
            ):
                # Its schedule rows are gone with the discharge, this one too.
                discharged.add(row.graduate_id)
                counts["discharged"] += 1
                finished.append(row.id)
                continue
            following = next_day_close(schedule, after=row.planned_at, unclosed=None)
        else:
            if _worth_sending(row, graduate, now=now):
                queued.append(_notification(row, user_id=graduate.user_id, locale=schedule.locale))
            else:
                counts["dropped"] += 1
            if row.stream not in (PROMPT_STREAM, NUDGE_STREAM) and row.graduate_id not in items:
                plan = await current_plan_body(session, row.graduate_id)
                items[row.graduate_id] = items_from_plan(plan) if plan is not None else ()
            following = _next_values(schedule, items.get(row.graduate_id, ()), row, now=now, done=done)
        if following is None:
            finished.append(row.id)
        else:
            advanced.append(
                {"id": row.id, "lease_owner": None, "lease_until": None, "updated_at": now, **following}
            )
    # One INSERT for the batch's inbox rows and one for their deliveries, not three statements a row.
    await enqueue_notifications(session, queued, now=now)
    counts["queued"] = len(queued)
    if advanced:
        # Bulk UPDATE by primary key (one executemany); the rows are locked and verified above.
        await session.execute(update(Schedule), advanced)
    if finished:
        await session.execute(delete(Schedule).where(Schedule.id.in_(finished)))
    return counts


async def close_day(
    session: AsyncSession, *, graduate_id: uuid.UUID, local_date: date, rules: ProgramRules, now: datetime
) -> None:
    """The graduate's check-in window for ``local_date`` closed: record a missed day and run the
    silence rule (a missed heartbeat), in the batch's transaction."""
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None or graduate.status != "active":
        return
    await checkins.record_missed_day(session, graduate_id=graduate_id, local_date=local_date, now=now)
    # Silence counts from the day of enrollment, or of the latest re-admission, and reads how often
    # the person usually misses days from their running aggregates (none yet: the priors).
    aggregates = msgspec.convert(graduate.aggregates, Aggregates) if graduate.aggregates else Aggregates()
    aggregates = msgspec.structs.replace(aggregates, last_checkin_date=graduate.last_checkin_date)
    hit = assess_silence(aggregates, local_date, graduate.admitted_on, rules)
    if hit is not None:
        alerts = await AlertChanges.load(session, [graduate_id], rules)
        alerts.apply(
            graduate_id=graduate_id,
            counselor_id=graduate.counselor_id,
            hits=[hit],
            local_date=local_date,
            now=now,
        )
        await alerts.write(session)


async def escalate_due_alerts(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, limit: int = 200
) -> int:
    """Escalate every open alert whose wait ran out, in one transaction; how many moved."""
    async with session_factory() as session, session.begin():
        rules = await current_rules(session)
        return await alerts_service.escalate_due_alerts(session, rules=rules, now=now, limit=limit)


async def _still_held(
    session: AsyncSession, claimed: Sequence[_Row], *, worker_id: str
) -> set[tuple[uuid.UUID, datetime, str]]:
    """The claimed rows this worker still leases, with the occurrence each names now. Locked until
    commit (PostgreSQL), so a concurrent check-in or re-plan waits for this batch, then sees it."""
    current = await session.execute(
        select(Schedule.id, Schedule.planned_at, Schedule.occurrence_key)
        .where(Schedule.id.in_([row.id for row in claimed]), Schedule.lease_owner == worker_id)
        .with_for_update()
    )
    return {(row.id, row.planned_at, row.occurrence_key) for row in current}


def _worth_sending(row: _Row, graduate: _Row, *, now: datetime) -> bool:
    if graduate.user_id is None or row.deadline <= now:
        return False
    # The check-in cancels its day's prompt and nudge; this catches one that raced the claim.
    return not (row.stream in (PROMPT_STREAM, NUDGE_STREAM) and graduate.last_checkin_date == row.local_date)


def _notification(row: _Row, *, user_id: uuid.UUID, locale: Locale) -> NotificationSpec:
    """The inbox row (and its pushes) for one occurrence. No medication names, nothing clinical:
    titles come from the planner (in the graduate's language when it planned the row: a change of
    language re-plans), bodies are fixed text."""
    prompt = row.stream in (PROMPT_STREAM, NUDGE_STREAM)
    return NotificationSpec(
        user_id=user_id,
        kind=row.kind,
        title=row.title,
        body=translate(_BODIES[row.kind], locale),
        url=f"/checkin/{row.local_date.isoformat()}" if prompt else "/plan",
        tag=make_topic(row.occurrence_key),
        ref_id=str(row.id),
        urgency="normal",
        expires_at=row.deadline,
        topic=make_topic(_TOPIC_KIND[row.kind], str(user_id), row.local_date.isoformat()),
        status="skipped_quiet_hours" if row.status == "skipped_quiet_hours" else "pending",
        # The dose, for the app to mark it: the plan's id of the medication, never its name.
        dose=dose_of(row.item_id, row.event_at) if row.kind == "medication_reminder" else None,
    )


def _next_values(
    schedule: GraduateSchedule,
    items: tuple[ScheduledItem, ...],
    row: _Row,
    *,
    now: datetime,
    done: frozenset[date],
) -> dict[str, Any] | None:
    found = next_live(schedule, items, row.stream, after=row.planned_at, now=now, checked_in_dates=done)
    return None if found is None else occurrence_values(found)
