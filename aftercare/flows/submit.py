"""Submitting daily check-ins: idempotent, one a local day, and group-committed.

The check-in is the hottest write of the service, and most of its cost was per statement (a trip
through SQLAlchemy and the driver, a round trip on PostgreSQL) and per commit (an fsync). So
concurrent submissions are written in batches (``db.batching``), one transaction each:

1. lock the batch's graduates, in id order (two batches never wait for each other in a cycle), and
   read with them what scheduling needs, their plan versions and the program rules;
2. read, in one statement, the check-ins that decide each submission: a replay of its
   ``client_id``, one already stored for its day, and the engine's window before that day; and,
   for graduates whose plan has medications, the doses marked taken on those days (``rules.doses``:
   they answer an unanswered ``took_medication``);
3. decide each submission in arrival order, in memory, with the step the backtest runs too
   (``rules.step.checkin_step``: window, assess, lifecycle, fold): a phone syncing three offline
   days in one batch sees its own earlier days and the alerts they opened, and a retry sees its
   twin, as they would one at a time;
4. write the alerts (``alerts.service.AlertChanges``: new, raised and refreshed alerts, their
   events and pushes), the new check-ins, the graduates' running aggregates, the days' prompts and
   the audit rows, a statement or two each, and commit. Only then is any submission answered.

A submission that is refused (422, 409) or replayed (200) is decided before anything of it is
written, so it leaves nothing behind in its batch. Any other failure (another process stored the
same day first, a deadlock, a bug) fails the whole batch, and each of its submissions is tried
again alone: one submission's trouble stays its own. Under light load a batch is one submission.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy import Text, bindparam, case, cast, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare.alerts.service import AlertChanges
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins import schemas
from aftercare.checkins.models import Checkin
from aftercare.checkins.service import (
    ANSWER_FIELDS,
    WINDOW_COLUMNS,
    check_local_date,
    check_plan_refs,
    crisis_for,
    fingerprint,
    result_encoder,
    support_for,
    wire_assessment,
)
from aftercare.db.base import table_of
from aftercare.db.batching import Batcher, BatchFunction, batcher_for
from aftercare.db.engine import make_session_factory
from aftercare.db.types import uuid7
from aftercare.doses.service import taken_by_day
from aftercare.errors import AftercareError, CheckinExists, Discharged, IdempotencyConflict, NotFound
from aftercare.graduates.models import Graduate, silence_start
from aftercare.i18n import _, locale_of
from aftercare.plans.models import Plan
from aftercare.plans.schemas import PlanBody, plan_body_decoder
from aftercare.plans.validation import PlanIds
from aftercare.program.models import ProgramRulesRow
from aftercare.program.service import PROGRAM_ROW_ID
from aftercare.request_context import current_request_id
from aftercare.rules.aggregates import Aggregates, CheckinFacts, facts_of
from aftercare.rules.config import DEFAULT_RULES, ProgramRules
from aftercare.rules.doses import day_doses
from aftercare.rules.engine import WINDOW_DAYS, PlanFacts, RiskLevel
from aftercare.rules.plan_facts import plan_facts
from aftercare.rules.step import checkin_step
from aftercare.scheduling.localtime import local_today, zone
from aftercare.scheduling.service import CheckedInDays, cancel_prompts_for_days

# Enough to share a commit among every connection of a busy worker; small enough that a batch
# holds the write lock (SQLite) or its graduates' rows (PostgreSQL) for a few milliseconds.
MAX_BATCH = 64
PLAN_CACHE_SIZE = 8192

log = logging.getLogger("aftercare.checkins")
_result_decoder = msgspec.json.Decoder(schemas.CheckinResult)
_rules_decoder = msgspec.json.Decoder(ProgramRules)
# A JSON column written with None holds JSON ``null``, not SQL NULL: both mean "no history yet".
_aggregates_decoder = msgspec.json.Decoder(Aggregates | None)


@dataclass(frozen=True)
class Submitted:
    """A stored check-in's response body, and whether it was a replay (200) or new (201)."""

    body: schemas.CheckinResult
    replayed: bool


async def submit_checkin(
    engine: AsyncEngine,
    *,
    graduate_id: uuid.UUID,
    data: schemas.CheckinCreate,
    actor: Principal,
    crisis_line: str,
    now: datetime,
) -> Submitted:
    """Store a check-in (201) or find its twin (200); returns once it is committed, by a batch
    writing through sessions of its own on ``engine``."""
    submission = _Submission(
        graduate_id=graduate_id,
        data=data,
        fingerprint=fingerprint(data),
        actor=actor,
        crisis_line=crisis_line,
        now=now,
        request_id=current_request_id.get(),
    )
    batcher = batcher_for(
        engine,
        "checkins",
        lambda loop: Batcher(_writer(make_session_factory(engine)), loop, max_batch=MAX_BATCH),
    )
    return await batcher.submit(submission)


@dataclass(frozen=True)
class _Submission:
    graduate_id: uuid.UUID
    data: schemas.CheckinCreate
    fingerprint: str
    actor: Principal
    crisis_line: str
    now: datetime
    request_id: str | None  # the batch writes in another task: the audit row needs the request's id


def _writer(factory: async_sessionmaker[AsyncSession]) -> BatchFunction[_Submission, Submitted]:
    async def write(batch: list[_Submission]) -> list[Submitted | Exception]:
        if len(batch) > 1:
            try:
                return await _write_batch(factory, batch)
            except Exception as error:
                # Nothing of the batch was stored: each submission is tried again alone, below.
                log.warning(
                    "a batch of %d check-ins failed (%s); writing them one at a time",
                    len(batch),
                    type(error).__name__,
                )
        return [await _write_alone(factory, submission) for submission in batch]

    return write


async def _write_alone(
    factory: async_sessionmaker[AsyncSession], submission: _Submission
) -> Submitted | Exception:
    try:
        [outcome] = await _write_batch(factory, [submission])
        return outcome
    except IntegrityError:
        # A concurrent submit (another process, on PostgreSQL) stored it first: the same phone
        # retrying gets its original (200); a different client_id for the same day the contract's 409.
        return await _after_conflict(factory, submission)
    except Exception as error:
        return error


async def _after_conflict(
    factory: async_sessionmaker[AsyncSession], submission: _Submission
) -> Submitted | Exception:
    graduate_id, data = submission.graduate_id, submission.data
    async with factory() as session, session.begin():
        replay = (
            await session.execute(
                select(Checkin.fingerprint, Checkin.stored_response).where(
                    Checkin.graduate_id == graduate_id, Checkin.client_id == data.client_id
                )
            )
        ).one_or_none()
        existing = await session.scalar(
            select(Checkin.id).where(
                Checkin.graduate_id == graduate_id, Checkin.local_date == data.local_date
            )
        )
    try:
        if replay is not None:
            return _replayed(replay.fingerprint, replay.stored_response, submission.fingerprint)
    except IdempotencyConflict as conflict:
        return conflict
    return CheckinExists("a check-in exists for this day; amend it instead", checkin_id=str(existing))


def _replayed(fingerprint_stored: str, stored_response: bytes, fp: str) -> Submitted:
    if fingerprint_stored != fp:
        raise IdempotencyConflict(_("this client_id was used for a different check-in"))
    return Submitted(_result_decoder.decode(stored_response), replayed=True)


async def _write_batch(
    factory: async_sessionmaker[AsyncSession], batch: list[_Submission]
) -> list[Submitted | Exception]:
    async with factory() as session, session.begin():
        graduates = await _lock_graduates(session, sorted({s.graduate_id for s in batch}))
        await _read_checkins(session, batch, graduates)
        await _read_doses(session, batch, graduates)
        rules = next(iter(graduates.values())).rules if graduates else DEFAULT_RULES
        writes = _Writes(alerts=await AlertChanges.load(session, graduates, rules))
        outcomes: list[Submitted | Exception] = []
        for submission in batch:
            # The audit row (``audit.row``) takes the request id from the context.
            reset = current_request_id.set(submission.request_id)
            try:
                outcomes.append(_decide(submission, graduates.get(submission.graduate_id), writes))
            except AftercareError as refused:
                outcomes.append(refused)
            finally:
                current_request_id.reset(reset)
        await writes.store(session, graduates)
    return outcomes


@dataclass(frozen=True)
class _PlanRead:
    """One version of a graduate's plan as the check-in path uses it (decoded and analysed once)."""

    body: PlanBody | None
    facts: PlanFacts
    known: PlanIds


_NO_PLAN = _PlanRead(
    body=None, facts=PlanFacts(), known=PlanIds(trigger_ids=frozenset(), coping_skill_ids=frozenset())
)


class _PlanCache:
    """Decoded plans keyed by (graduate, plan version), least recently used dropped first.

    Valid because a plan's version rises with every write and plans are never deleted (only with
    their graduate, whose id is never reused): each submit reads the current version under the
    graduate's lock, and a (graduate, version) names exactly one body. Process memory only."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[uuid.UUID, int], _PlanRead] = OrderedDict()

    def get(self, key: tuple[uuid.UUID, int]) -> _PlanRead | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[uuid.UUID, int], value: _PlanRead) -> None:
        self._entries[key] = value
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


_plan_cache = _PlanCache(PLAN_CACHE_SIZE)


@lru_cache(maxsize=8)
def _rules_of(version: int | None, body: str | None) -> ProgramRules:
    """The program rules from their stored JSON text. Keyed by the text itself, so a cached value
    can never be stale (the row is one small document; reading it is cheap, decoding is not)."""
    if version is None or body is None:
        return DEFAULT_RULES
    return msgspec.structs.replace(_rules_decoder.decode(body), version=version)


@dataclass
class _Graduate:
    """One graduate of a batch: the row as locked, and what the batch's check-ins have done so far."""

    row: Any  # of ``_lock_graduates_statement``: what scheduling needs of the graduate
    aggregates: Aggregates
    plan: _PlanRead
    rules: ProgramRules
    # Check-ins stored (in the window's range, or a replay's) and those of this batch:
    window: list[CheckinFacts] = field(default_factory=list)
    days: dict[date, uuid.UUID] = field(default_factory=dict)
    client_ids: dict[uuid.UUID, tuple[str, bytes]] = field(default_factory=dict)  # -> (fingerprint, response)
    new_days: set[date] = field(default_factory=set)
    taken: dict[date, set[str]] = field(default_factory=dict)  # medications with a dose marked taken, by day
    # The caseload's: the latest day's assessment level, and the risk with this batch's alerts.
    last_assessed_level: RiskLevel = "low"
    risk_level: RiskLevel = "low"
    updated_at: datetime | None = None


# Built once: building a statement (coercing every value into a bound parameter, then deriving its
# cache key) costs more than running it.
_checkins, _graduates, _plans, _rules = (
    table_of(Checkin),
    table_of(Graduate),
    table_of(Plan),
    table_of(ProgramRulesRow),
)
_RULES_ROW = _rules.c.id == PROGRAM_ROW_ID
_lock_graduates_statement = (
    select(
        _graduates.c.id,
        _graduates.c.counselor_id,
        _graduates.c.timezone,
        _graduates.c.checkin_time,
        _graduates.c.quiet_start,
        _graduates.c.quiet_end,
        _graduates.c.status,
        _graduates.c.locale,
        _graduates.c.last_checkin_date,
        _graduates.c.admitted_on,
        _graduates.c.last_assessed_level,
        cast(_graduates.c.aggregates, Text).label("aggregates"),
        select(_plans.c.version)
        .where(_plans.c.graduate_id == _graduates.c.id)
        .scalar_subquery()
        .label("plan_version"),
        select(_rules.c.version).where(_RULES_ROW).scalar_subquery().label("rules_version"),
        select(cast(_rules.c.body, Text)).where(_RULES_ROW).scalar_subquery().label("rules_body"),
    )
    # An erased graduate is not found (404), also by a submission that passed the guard just before
    # the erasure committed: PostgreSQL checks the locked row's new version against this again.
    .where(_graduates.c.id.in_(bindparam("graduate_ids", expanding=True)), _graduates.c.erased_at.is_(None))
    .order_by(_graduates.c.id)
    .with_for_update(of=_graduates)
)
_plans_statement = select(
    _plans.c.graduate_id, _plans.c.version, cast(_plans.c.body, Text), _plans.c.known_ids
).where(_plans.c.graduate_id.in_(bindparam("graduate_ids", expanding=True)))
_is_replay = _checkins.c.client_id.in_(bindparam("client_ids", expanding=True))
# Served by the two unique indexes, (graduate_id, client_id) and (graduate_id, local_date); only a
# replay's stored response is read.
_checkins_statement = select(
    _checkins.c.graduate_id,
    _checkins.c.id,
    _checkins.c.client_id,
    _checkins.c.fingerprint,
    case((_is_replay, _checkins.c.stored_response)).label("stored_response"),
    *WINDOW_COLUMNS,
).where(
    _checkins.c.graduate_id.in_(bindparam("graduate_ids", expanding=True)),
    or_(_is_replay, _checkins.c.local_date >= bindparam("earliest")),
)
_insert_checkin = insert(_checkins)
_update_graduate = update(_graduates).where(_graduates.c.id == bindparam("graduate_id"))


async def _lock_graduates(session: AsyncSession, graduate_ids: list[uuid.UUID]) -> dict[uuid.UUID, _Graduate]:
    """Lock the graduates' rows and read them; the plan bodies only of versions this process has
    not analysed yet (one statement for all of them)."""
    connection = await session.connection()
    rows = (await connection.execute(_lock_graduates_statement, {"graduate_ids": graduate_ids})).all()
    plans: dict[uuid.UUID, _PlanRead] = {}
    missing = []
    for row in rows:
        cached = None if row.plan_version is None else _plan_cache.get((row.id, row.plan_version))
        if cached is not None:
            plans[row.id] = cached
        elif row.plan_version is not None:
            missing.append(row.id)
    if missing:
        for graduate_id, version, body_text, known_ids in await connection.execute(
            _plans_statement, {"graduate_ids": missing}
        ):
            body = plan_body_decoder.decode(body_text)
            read = plans[graduate_id] = _PlanRead(
                body=body, facts=plan_facts(body), known=msgspec.convert(known_ids, PlanIds)
            )
            # Keyed by the version read with the body: a plan written since the lock is not misfiled.
            _plan_cache.put((graduate_id, version), read)
    return {
        row.id: _Graduate(
            row=row,
            aggregates=(_aggregates_decoder.decode(row.aggregates) if row.aggregates else None)
            or Aggregates(),
            plan=plans.get(row.id, _NO_PLAN),
            rules=_rules_of(row.rules_version, row.rules_body),
            last_assessed_level=row.last_assessed_level,
        )
        for row in rows
    }


async def _read_checkins(
    session: AsyncSession, batch: list[_Submission], graduates: dict[uuid.UUID, _Graduate]
) -> None:
    """The stored check-ins that decide the batch's submissions, into each graduate's state."""
    if not graduates:
        return
    connection = await session.connection()
    rows = await connection.execute(
        _checkins_statement,
        {
            "graduate_ids": list(graduates),
            "client_ids": sorted({s.data.client_id for s in batch}),
            "earliest": _days_before(min(s.data.local_date for s in batch), WINDOW_DAYS - 1),
        },
    )
    for row in rows:
        graduate = graduates[row.graduate_id]
        graduate.window.append(facts_of(row))
        graduate.days[row.local_date] = row.id
        if row.stored_response is not None:
            graduate.client_ids[row.client_id] = (row.fingerprint, row.stored_response)


async def _read_doses(
    session: AsyncSession, batch: list[_Submission], graduates: dict[uuid.UUID, _Graduate]
) -> None:
    """The doses marked taken on the batch's days, for the graduates whose plan has medications (the
    others, most of them, cost nothing)."""
    medicated = {
        graduate_id
        for graduate_id, graduate in graduates.items()
        if graduate.plan.body is not None and graduate.plan.body.medications
    }
    days = {s.data.local_date for s in batch if s.graduate_id in medicated}
    if not days:
        return
    found = await taken_by_day(await session.connection(), medicated, days)
    for (graduate_id, day), medications in found.items():
        graduates[graduate_id].taken[day] = medications


def _days_before(day: date, days: int) -> date:
    """``day`` less ``days``, or the calendar's first day: a ``local_date`` is read before it is
    checked (the replay check comes first), and 0001-01-01 less a window would overflow."""
    return day - timedelta(days=days) if day.toordinal() > days else date.min


@dataclass
class _Writes:
    """What the batch's new check-ins write, each kind with one statement at the end."""

    alerts: AlertChanges
    checkins: list[dict[str, Any]] = field(default_factory=list)
    audit_rows: list[dict[str, Any]] = field(default_factory=list)

    async def store(self, session: AsyncSession, graduates: dict[uuid.UUID, _Graduate]) -> None:
        if not self.checkins:
            return
        await self.alerts.write(session)
        connection = await session.connection()
        await connection.execute(_insert_checkin, self.checkins)
        changed = [
            (graduate_id, graduate) for graduate_id, graduate in graduates.items() if graduate.new_days
        ]
        await connection.execute(
            _update_graduate,
            [
                {
                    "graduate_id": graduate_id,
                    "aggregates": msgspec.to_builtins(graduate.aggregates),
                    "last_checkin_date": graduate.aggregates.last_checkin_date,
                    "silent_since": silence_start(
                        graduate.aggregates.last_checkin_date, graduate.row.admitted_on
                    ),
                    "streak_days": graduate.aggregates.streak_days,
                    "last_assessed_level": graduate.last_assessed_level,
                    "risk_level": graduate.risk_level,
                    "updated_at": graduate.updated_at,
                }
                for graduate_id, graduate in changed
            ],
        )
        latest = max(graduate.updated_at for _, graduate in changed if graduate.updated_at is not None)
        await cancel_prompts_for_days(
            session,
            [
                CheckedInDays(graduate_id, frozenset(graduate.new_days), graduate.row)
                for graduate_id, graduate in changed
            ],
            nudge_after_minutes=changed[0][1].rules.nudge_after_minutes,
            now=latest,
        )
        await audit.record_rows(session, self.audit_rows)


def _decide(submission: _Submission, graduate: _Graduate | None, writes: _Writes) -> Submitted:
    """One submission against its graduate's state: a replay, a refusal, or a new check-in (its
    alerts and rows queued in ``writes``, the state moved on as if it were stored)."""
    if graduate is None:
        raise NotFound(_("graduate not found"))
    data, now = submission.data, submission.now
    twin = graduate.client_ids.get(data.client_id)
    if twin is not None:
        return _replayed(*twin, submission.fingerprint)
    if graduate.row.status == "discharged":
        raise Discharged(_("the graduate is discharged from aftercare; asking for help still works"))
    check_local_date(data.local_date, graduate.row.timezone, now)
    existing = graduate.days.get(data.local_date)
    if existing is not None:
        raise CheckinExists(_("a check-in exists for this day; amend it instead"), checkin_id=str(existing))
    plan = graduate.plan
    if data.triggers or data.coping_used:
        check_plan_refs(plan.known, data.triggers, data.coping_used)
    facts = facts_of(data)
    medications = plan.body.medications if plan.body is not None else []
    step = checkin_step(
        facts,
        received=graduate.window,
        aggregates=graduate.aggregates,
        alerts=writes.alerts.states(submission.graduate_id),
        plan=plan.facts,
        rules=graduate.rules,
        on=local_today(now, zone(graduate.row.timezone)),
        doses=day_doses(medications, data.local_date, graduate.taken.get(data.local_date, ())),
    )
    checkin_id = uuid7()
    writes.alerts.record(
        graduate_id=submission.graduate_id,
        counselor_id=graduate.row.counselor_id,
        changes=step.changes,
        now=now,
        checkin_id=checkin_id,
    )
    assessment = wire_assessment(step.assessment)
    answers = {name: getattr(data, name) for name in ANSWER_FIELDS}
    result = schemas.CheckinResult(
        id=checkin_id,
        graduate_id=submission.graduate_id,
        client_id=data.client_id,
        local_date=data.local_date,
        received_at=now,
        updated_at=now,
        version=1,
        **answers,
        assessment=assessment,
        support=support_for(
            plan.body,
            facts,
            crisis_for(
                graduate.rules.program, locale_of(graduate.row.locale), operator_line=submission.crisis_line
            ),
        ),
    )
    stored_response = result_encoder.encode(result)
    writes.checkins.append(
        {
            "id": checkin_id,
            "graduate_id": submission.graduate_id,
            "client_id": data.client_id,
            "local_date": data.local_date,
            "received_at": now,
            "updated_at": now,
            "version": 1,
            **answers,
            "took_medication_from_doses": step.checkin.took_medication != facts.took_medication,
            "risk_score": assessment.risk_score,
            "risk_level": assessment.risk_level,
            "reasons": assessment.reasons,
            "aggregates_before": msgspec.to_builtins(graduate.aggregates),
            "fingerprint": submission.fingerprint,
            "stored_response": stored_response,
        }
    )
    writes.audit_rows.append(
        audit.row(
            actor=submission.actor,
            action="create",
            resource="checkin",
            graduate_id=submission.graduate_id,
            resource_id=str(checkin_id),
            now=now,
        )
    )
    if step.aggregates.last_checkin_date == data.local_date:  # the latest day (not a late older one)
        graduate.last_assessed_level = assessment.risk_level
    graduate.risk_level = writes.alerts.risk_level(submission.graduate_id, graduate.last_assessed_level)
    graduate.aggregates = step.aggregates
    graduate.updated_at = now
    graduate.window.append(step.checkin)
    graduate.days[data.local_date] = checkin_id
    graduate.client_ids[data.client_id] = (submission.fingerprint, stored_response)
    graduate.new_days.add(data.local_date)
    return Submitted(result, replayed=False)
