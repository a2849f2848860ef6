"""Daily check-ins: idempotent submit, amend, "help now", the day's window close, and listing.

A check-in, its assessment, the alerts it opens or raises (with their events and pushes), the
graduate's running aggregates and the audit row are written in ONE transaction that commits before
the response is built: a 201 is never sent for something not stored, and an alert is never lost
because the request failed after the check-in was stored.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy import Text, and_, bindparam, case, cast, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import service as alerts
from aftercare.audit import service as audit
from aftercare.auth.tokens import Principal
from aftercare.checkins import schemas
from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest, MissedDay
from aftercare.db.base import table_of
from aftercare.db.types import uuid7
from aftercare.errors import (
    CheckinExists,
    FieldError,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    ValidationFailed,
)
from aftercare.graduates.models import Graduate
from aftercare.pagination import before_key, decode_cursor, encode_cursor
from aftercare.plans import service as plans
from aftercare.plans.models import Plan
from aftercare.plans.schemas import CrisisPlan, PlanBody, plan_body_decoder
from aftercare.plans.validation import PlanIds
from aftercare.rules.aggregates import Aggregates, CheckinFacts, fold
from aftercare.rules.config import DEFAULT_RULES, ProgramRules
from aftercare.rules.engine import WINDOW_DAYS, PlanFacts, RuleHit, assess, assess_silence
from aftercare.rules.models import ProgramRulesRow
from aftercare.rules.plan_facts import plan_facts
from aftercare.rules.service import PROGRAM_ROW_ID, current_rules
from aftercare.scheduling import localtime
from aftercare.scheduling.service import cancel_prompts_for_day

MAX_SYNC_AGE_DAYS = 7
ANSWER_FIELDS = (
    "mood", "craving", "stress", "used", "safety_concern", "sleep_hours", "attended_support",
    "took_medication", "isolating", "triggers", "coping_used", "note",
)
HELP_MESSAGE = (
    "Your counselor has been alerted. Aftercare is not an emergency service: if you are in danger or "
    "thinking of harming yourself, call your crisis line now, or your local emergency number."
)
_result_encoder = msgspec.json.Encoder()
_result_decoder = msgspec.json.Decoder(schemas.CheckinResult)
_help_decoder = msgspec.json.Decoder(schemas.HelpResult)
_rules_decoder = msgspec.json.Decoder(ProgramRules)
# A JSON column written with None holds JSON ``null``, not SQL NULL: both mean "no history yet".
_aggregates_decoder = msgspec.json.Decoder(Aggregates | None)



# The submit path reads and writes with Core statements on these tables (no ORM identity map).
_checkins = table_of(Checkin)
_graduates = table_of(Graduate)
_plans = table_of(Plan)
_rules = table_of(ProgramRulesRow)
_WINDOW_COLUMNS = (
    _checkins.c.local_date, _checkins.c.mood, _checkins.c.craving, _checkins.c.stress, _checkins.c.sleep_hours,
    _checkins.c.used, _checkins.c.attended_support, _checkins.c.took_medication, _checkins.c.isolating,
    _checkins.c.triggers, _checkins.c.coping_used, _checkins.c.safety_concern,
)


@dataclass(frozen=True)
class Submitted:
    """A stored check-in's response body, and whether it was a replay (200) or new (201)."""

    body: schemas.CheckinResult
    replayed: bool


def fingerprint(data: msgspec.Struct) -> str:
    """Hash of the decoded body: ``null`` and an omitted optional field encode alike."""
    return hashlib.sha256(_result_encoder.encode(data)).hexdigest()


def facts_of(row: Any) -> CheckinFacts:
    return CheckinFacts(
        local_date=row.local_date, mood=row.mood, craving=row.craving, stress=row.stress,
        sleep_hours=row.sleep_hours, used=row.used, attended_support=row.attended_support,
        took_medication=row.took_medication, isolating=row.isolating, triggers=tuple(row.triggers),
        coping_used=tuple(row.coping_used), safety_concern=row.safety_concern,
    )


@dataclass(frozen=True)
class _PlanRead:
    """One version of a graduate's plan as the check-in path uses it (decoded and analysed once)."""

    body: PlanBody | None
    facts: PlanFacts
    known: PlanIds


_NO_PLAN = _PlanRead(body=None, facts=PlanFacts(), known=PlanIds(trigger_ids=frozenset(), coping_skill_ids=frozenset()))
PLAN_CACHE_SIZE = 8192


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


@dataclass(frozen=True)
class _Locked:
    """The graduate row (locked) and the versions of what the assessment reads, in one statement."""

    graduate: Any  # the row of ``_lock_graduate_statement``: what scheduling needs of the graduate
    aggregates: Aggregates
    plan: _PlanRead
    rules: ProgramRules

    @property
    def timezone(self) -> str:
        return str(self.graduate.timezone)


# The submit path's statements are built once: building a statement (coercing every value into a
# bound parameter, then deriving its cache key) costs more than running it.
_RULES_ROW = _rules.c.id == PROGRAM_ROW_ID
_lock_graduate_statement = (
    select(
        _graduates.c.timezone, _graduates.c.checkin_time, _graduates.c.quiet_start, _graduates.c.quiet_end,
        _graduates.c.status, _graduates.c.last_checkin_date,
        cast(_graduates.c.aggregates, Text).label("aggregates"),
        select(_plans.c.version).where(_plans.c.graduate_id == _graduates.c.id).scalar_subquery().label("plan_version"),
        select(_rules.c.version).where(_RULES_ROW).scalar_subquery().label("rules_version"),
        select(cast(_rules.c.body, Text)).where(_RULES_ROW).scalar_subquery().label("rules_body"),
    )
    .where(_graduates.c.id == bindparam("graduate_id"))
    .with_for_update(of=_graduates)
)
_plan_statement = (
    select(_plans.c.version, cast(_plans.c.body, Text), _plans.c.known_ids)
    .where(_plans.c.graduate_id == bindparam("graduate_id"))
)
_is_replay = _checkins.c.client_id == bindparam("client_id")
# One statement for three reads: the check-in with this ``client_id`` (a replay), the one of the
# same local day (a 409), and the engine's window before that day (served by the two unique indexes,
# (graduate, client_id) and (graduate, local_date)). Only a replay's stored body is sent.
_replay_day_and_window_statement = (
    select(_checkins.c.id, _is_replay, _checkins.c.fingerprint, case((_is_replay, _checkins.c.stored_response)),
           *_WINDOW_COLUMNS)
    .where(_checkins.c.graduate_id == bindparam("graduate_id"),
           or_(_is_replay, and_(_checkins.c.local_date >= bindparam("window_start"),
                                _checkins.c.local_date <= bindparam("day"))))
    .order_by(_checkins.c.local_date)
)
_insert_checkin = insert(_checkins)
_update_graduate = update(_graduates).where(_graduates.c.id == bindparam("graduate_id"))


async def _lock_graduate(session: AsyncSession, graduate_id: uuid.UUID) -> _Locked:
    """Lock the graduate row and read, in the same round trip, what scheduling needs of it, its
    plan's version and the program rules; the plan body is read (and analysed) only when this
    process has not seen that version."""
    connection = await session.connection()
    row = (await connection.execute(_lock_graduate_statement, {"graduate_id": graduate_id})).one_or_none()
    if row is None:
        raise NotFound("graduate not found")
    return _Locked(
        graduate=row,
        aggregates=(_aggregates_decoder.decode(row.aggregates) if row.aggregates else None) or Aggregates(),
        plan=_NO_PLAN if row.plan_version is None else await _plan_read(session, graduate_id, row.plan_version),
        rules=_rules_of(row.rules_version, row.rules_body),
    )


async def _plan_read(session: AsyncSession, graduate_id: uuid.UUID, version: int) -> _PlanRead:
    cached = _plan_cache.get((graduate_id, version))
    if cached is not None:
        return cached
    connection = await session.connection()
    row = (await connection.execute(_plan_statement, {"graduate_id": graduate_id})).one()
    body = plan_body_decoder.decode(row[1])
    read = _PlanRead(body=body, facts=plan_facts(body), known=msgspec.convert(row[2], PlanIds))
    # Keyed by the version read with the body: a plan written since the first read is not misfiled.
    _plan_cache.put((graduate_id, row[0]), read)
    return read


async def submit_checkin(
    session: AsyncSession, *, graduate_id: uuid.UUID, data: schemas.CheckinCreate, actor: Principal,
    crisis_line: str, now: datetime,
) -> Submitted:
    fp = fingerprint(data)
    try:
        async with session.begin():
            # Lock the graduate row first: concurrent submits for one graduate queue here, so the
            # replay lookup below sees a twin that committed while this one waited.
            locked = await _lock_graduate(session, graduate_id)
            replay, existing, window = await _replay_day_and_window(session, graduate_id, data, fp)
            if replay is not None:
                return replay
            result = await _store_checkin(session, graduate_id=graduate_id, locked=locked, data=data, fp=fp,
                                          existing=existing, window=window, actor=actor,
                                          crisis_line=crisis_line, now=now)
    except IntegrityError:
        # A concurrent submit won the race: the same phone retrying gets its original (200); a
        # different client_id for the same day gets the contract's 409.
        async with session.begin():
            replay = await _find_replay(session, graduate_id, data.client_id, fp)
            if replay is not None:
                return replay
            existing = await session.scalar(
                select(Checkin.id).where(Checkin.graduate_id == graduate_id, Checkin.local_date == data.local_date)
            )
        raise CheckinExists("a check-in exists for this day; amend it instead",
                            checkin_id=str(existing)) from None
    return Submitted(result, replayed=False)


def _replayed(fingerprint_stored: str, stored_response: bytes, fp: str) -> Submitted:
    if fingerprint_stored != fp:
        raise IdempotencyConflict("this client_id was used for a different check-in")
    return Submitted(_result_decoder.decode(stored_response), replayed=True)


async def _find_replay(session: AsyncSession, graduate_id: uuid.UUID, client_id: uuid.UUID,
                       fp: str) -> Submitted | None:
    row = (
        await session.execute(
            select(Checkin.fingerprint, Checkin.stored_response)
            .where(Checkin.graduate_id == graduate_id, Checkin.client_id == client_id)
        )
    ).one_or_none()
    return None if row is None else _replayed(row.fingerprint, row.stored_response, fp)


async def _load_graduate(session: AsyncSession, graduate_id: uuid.UUID) -> Graduate:
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None:
        raise NotFound("graduate not found")
    return graduate


async def _replay_day_and_window(
    session: AsyncSession, graduate_id: uuid.UUID, data: schemas.CheckinCreate, fp: str,
) -> tuple[Submitted | None, uuid.UUID | None, list[CheckinFacts]]:
    """A replay of this ``client_id``, else the check-in already stored for the day (if any) and the
    engine's window before it, from ``_replay_day_and_window_statement``."""
    day = data.local_date
    connection = await session.connection()
    rows = (
        await connection.execute(_replay_day_and_window_statement, {
            "graduate_id": graduate_id, "client_id": data.client_id, "day": day,
            "window_start": day - timedelta(days=WINDOW_DAYS - 1),
        })
    ).all()
    existing, window = None, []
    for row in rows:
        if row[1]:
            return _replayed(row[2], row[3], fp), None, []
        if row.local_date == day:
            existing = row[0]
        else:
            window.append(facts_of(row))
    return None, existing, window


def _check_local_date(local_date: date, timezone: str, now: datetime) -> None:
    today = localtime.local_today(now, localtime.zone(timezone))
    if local_date > today:
        raise ValidationFailed.one("local_date", f"is in the future (today is {today.isoformat()} locally)")
    if local_date < today - timedelta(days=MAX_SYNC_AGE_DAYS):
        raise ValidationFailed.one("local_date", f"is more than {MAX_SYNC_AGE_DAYS} days old")


def _check_plan_refs(known: PlanIds, triggers: list[str], coping_used: list[str]) -> None:
    errors = [FieldError(f"triggers[{i}]", f"unknown trigger id {t!r}")
              for i, t in enumerate(triggers) if t not in known.trigger_ids]
    errors += [FieldError(f"coping_used[{i}]", f"unknown coping skill id {c!r}")
               for i, c in enumerate(coping_used) if c not in known.coping_skill_ids]
    if errors:
        raise ValidationFailed(errors)


async def _window_before(session: AsyncSession, graduate_id: uuid.UUID, day: date) -> list[CheckinFacts]:
    """The engine's bounded window: check-ins of the 27 local days before ``day``, oldest first
    (served by the unique (graduate_id, local_date) index)."""
    rows = await session.execute(
        select(*_WINDOW_COLUMNS)
        .where(Checkin.graduate_id == graduate_id,
               Checkin.local_date >= day - timedelta(days=WINDOW_DAYS - 1), Checkin.local_date < day)
        .order_by(Checkin.local_date)
    )
    return [facts_of(row) for row in rows]


def _support(plan: PlanBody | None, facts: CheckinFacts, crisis_line: str) -> schemas.Support:
    """Coping skills the plan links to each trigger met today; the crisis plan on a safety answer."""
    suggestions = []
    if plan is not None:
        skills = {skill.id: skill for skill in plan.coping_skills}
        seen: set[str] = set()
        for trigger in plan.triggers:
            if trigger.id in facts.triggers:
                for skill_id in trigger.coping_skill_ids:
                    if skill_id in skills and skill_id not in seen:
                        seen.add(skill_id)
                        suggestions.append(skills[skill_id])
    crisis = crisis_plan_of(plan, crisis_line) if facts.safety_concern else None
    return schemas.Support(coping_suggestions=suggestions, crisis=crisis)


def crisis_plan_of(plan: PlanBody | None, crisis_line: str) -> CrisisPlan:
    if plan is not None and plan.crisis_plan is not None:
        return plan.crisis_plan
    return CrisisPlan(steps=["Call your crisis line or emergency number now.",
                             "Reach out to someone you trust and stay with them."], crisis_line=crisis_line)


async def _assess_and_alert(
    session: AsyncSession, graduate_id: uuid.UUID, window: list[CheckinFacts], aggregates_before: Aggregates,
    plan: PlanFacts, rules: ProgramRules, now: datetime,
) -> schemas.Assessment:
    """Assess the window (the day judged last) and store what its hits do to the alerts."""
    assessment = assess(window, aggregates_before, plan, rules)
    if assessment.hits:
        # The row is locked already; the alert lifecycle needs the graduate object (counselor).
        graduate = await session.get(Graduate, graduate_id)
        assert graduate is not None
        await alerts.apply_hits_for_graduate(session, graduate=graduate, hits=assessment.hits,
                                             local_date=window[-1].local_date, now=now, rules=rules)
    return schemas.Assessment(risk_score=assessment.risk_score, risk_level=assessment.risk_level,
                              reasons=list(assessment.reasons))


async def _store_checkin(
    session: AsyncSession, *, graduate_id: uuid.UUID, locked: _Locked, data: schemas.CheckinCreate, fp: str,
    existing: uuid.UUID | None, window: list[CheckinFacts], actor: Principal, crisis_line: str, now: datetime,
) -> schemas.CheckinResult:
    _check_local_date(data.local_date, locked.timezone, now)
    if existing is not None:
        raise CheckinExists("a check-in exists for this day; amend it instead", checkin_id=str(existing))
    plan = locked.plan
    if data.triggers or data.coping_used:
        _check_plan_refs(plan.known, data.triggers, data.coping_used)
    facts = facts_of(data)
    aggregates_before = locked.aggregates
    assessment = await _assess_and_alert(session, graduate_id, [*window, facts], aggregates_before, plan.facts,
                                         locked.rules, now)
    checkin_id = uuid7()
    answers = {name: getattr(data, name) for name in ANSWER_FIELDS}
    result = schemas.CheckinResult(
        id=checkin_id, graduate_id=graduate_id, client_id=data.client_id, local_date=data.local_date,
        received_at=now, updated_at=now, version=1, **answers,
        assessment=assessment, support=_support(plan.body, facts, crisis_line),
    )
    connection = await session.connection()
    await connection.execute(_insert_checkin, {
        "id": checkin_id, "graduate_id": graduate_id, "client_id": data.client_id, "local_date": data.local_date,
        "received_at": now, "updated_at": now, "version": 1, **answers,
        "risk_score": assessment.risk_score, "risk_level": assessment.risk_level, "reasons": assessment.reasons,
        "aggregates_before": msgspec.to_builtins(aggregates_before), "fingerprint": fp,
        "stored_response": _result_encoder.encode(result),
    })
    aggregates = fold(aggregates_before, facts, trigger_coping=plan.facts.trigger_coping)
    await connection.execute(_update_graduate, {
        "graduate_id": graduate_id, "aggregates": msgspec.to_builtins(aggregates),
        "last_checkin_date": aggregates.last_checkin_date, "streak_days": aggregates.streak_days,
        "risk_level": assessment.risk_level, "updated_at": now,
    })
    await cancel_prompts_for_day(session, graduate_id, data.local_date, graduate=locked.graduate,
                                 nudge_after_minutes=locked.rules.nudge_after_minutes, now=now)
    await audit.record(session, actor=actor, action="create", resource="checkin", graduate_id=graduate_id,
                       resource_id=str(checkin_id), now=now)
    return result


def amend_deadline(local_date: date, timezone: str) -> datetime:
    """Amendments are allowed until the end of the local day after ``local_date``."""
    return localtime.day_bounds(local_date + timedelta(days=1), localtime.zone(timezone))[1]


async def amend_checkin(
    session: AsyncSession, *, graduate_id: uuid.UUID, checkin_id: uuid.UUID, data: schemas.CheckinAmend,
    actor: Principal, crisis_line: str, now: datetime,
) -> schemas.CheckinResult:
    """Change some answers; the previous ones are kept, the assessment re-run. Alerts may open or
    rise, never fall or close (the lifecycle only ever raises)."""
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    async with session.begin():
        graduate = await _load_graduate(session, graduate_id)
        checkin = await session.get(Checkin, checkin_id, with_for_update=True)
        if checkin is None or checkin.graduate_id != graduate_id:
            raise NotFound("check-in not found")
        if now >= amend_deadline(checkin.local_date, graduate.timezone):
            raise Forbidden("a check-in can be amended until the end of the next local day")
        if changes.get("triggers") or changes.get("coping_used"):
            _check_plan_refs(await plans.known_plan_ids(session, graduate_id), changes.get("triggers", []),
                             changes.get("coping_used", []))
        session.add(CheckinVersion(
            id=uuid7(), checkin_id=checkin.id, graduate_id=graduate_id, version=checkin.version,
            local_date=checkin.local_date, amended_at=now,
            answers={name: getattr(checkin, name) for name in ANSWER_FIELDS},
        ))
        for name, value in changes.items():
            setattr(checkin, name, value)
        plan = await plans.current_plan_body(session, graduate_id)
        rules = await current_rules(session)
        facts = facts_of(checkin)
        aggregates_before = msgspec.convert(checkin.aggregates_before, Aggregates)
        read_plan = plan_facts(plan)
        window = [*await _window_before(session, graduate_id, facts.local_date), facts]
        assessment = await _assess_and_alert(session, graduate_id, window, aggregates_before, read_plan, rules, now)
        checkin.version += 1
        checkin.updated_at = now
        checkin.risk_score, checkin.risk_level = assessment.risk_score, assessment.risk_level
        checkin.reasons = assessment.reasons
        if checkin.local_date == graduate.last_checkin_date:
            # The latest day: its answers are the last folded, so fold the amended ones instead.
            graduate.aggregates = msgspec.to_builtins(
                fold(aggregates_before, facts, trigger_coping=read_plan.trigger_coping))
            graduate.risk_level = assessment.risk_level
        graduate.updated_at = now
        await audit.record(session, actor=actor, action="update", resource="checkin", graduate_id=graduate_id,
                           resource_id=str(checkin.id), now=now)
    return schemas.CheckinResult(**msgspec.structs.asdict(to_schema(checkin)), support=_support(plan, facts, crisis_line))


async def request_help(
    session: AsyncSession, *, graduate_id: uuid.UUID, data: schemas.HelpCreate, actor: Principal,
    crisis_line: str, now: datetime,
) -> tuple[schemas.HelpResult, bool]:
    """"I need help now": never refused by day or window rules; opens or raises a critical safety
    alert and re-opens an acknowledged one. Idempotent by ``client_id``. Returns (body, replayed)."""
    fp = fingerprint(data)
    async with session.begin():
        # Lock the graduate first: a phone's retries queue here, then find their twin just below.
        graduate = await _load_graduate(session, graduate_id)
        row = (await session.execute(
            select(HelpRequest.fingerprint, HelpRequest.stored_response)
            .where(HelpRequest.graduate_id == graduate_id, HelpRequest.client_id == data.client_id)
        )).one_or_none()
        if row is not None:
            if row.fingerprint != fp:
                raise IdempotencyConflict("this client_id was used for a different help request")
            return _help_decoder.decode(row.stored_response), True
        rules = await current_rules(session)
        today = localtime.local_today(now, localtime.zone(graduate.timezone))
        hit = RuleHit(rule="safety", severity="critical", reasons=("asked for help now from the app",),
                      evidence={"local_dates": [today.isoformat()], "values": {"help_request": True}})
        touched = await alerts.apply_hits_for_graduate(
            session, graduate=graduate, hits=[hit], local_date=today, now=now, rules=rules,
            reopen_acknowledged=True,
        )
        plan = await plans.current_plan_body(session, graduate_id)
        help_id = uuid7()
        result = schemas.HelpResult(
            id=help_id, received_at=now, alert_id=touched[0].id if touched else None,
            crisis=crisis_plan_of(plan, crisis_line), message=HELP_MESSAGE,
        )
        session.add(HelpRequest(id=help_id, graduate_id=graduate_id, client_id=data.client_id,
                                message=data.message, received_at=now, fingerprint=fp,
                                stored_response=_result_encoder.encode(result)))
        await audit.record(session, actor=actor, action="create", resource="help_request",
                           graduate_id=graduate_id, resource_id=str(help_id), now=now)
    return result, False


async def close_day(session: AsyncSession, *, graduate_id: uuid.UUID, local_date: date, now: datetime) -> None:
    """The graduate's check-in window for ``local_date`` closed: record a missed day and run the
    silence rule, inside the caller's (the sweeper's) transaction."""
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None or graduate.status != "active":
        return
    has_checkin = await session.scalar(
        select(Checkin.id).where(Checkin.graduate_id == graduate_id, Checkin.local_date == local_date)
    )
    if has_checkin is None:
        exists = await session.get(MissedDay, (graduate_id, local_date))
        if exists is None:
            session.add(MissedDay(graduate_id=graduate_id, local_date=local_date, closed_at=now))
    first_expected = localtime.local_today(graduate.created_at, localtime.zone(graduate.timezone))
    rules = await current_rules(session)
    hit = assess_silence(graduate.last_checkin_date, local_date, first_expected, rules)
    if hit is not None:
        await alerts.apply_hits_for_graduate(session, graduate=graduate, hits=[hit], local_date=local_date,
                                             now=now, rules=rules)


def to_schema(row: Checkin) -> schemas.Checkin:
    return schemas.Checkin(
        id=row.id, graduate_id=row.graduate_id, client_id=row.client_id, local_date=row.local_date,
        received_at=row.received_at, updated_at=row.updated_at, version=row.version,
        **{name: getattr(row, name) for name in ANSWER_FIELDS},
        assessment=schemas.Assessment(risk_score=row.risk_score, risk_level=row.risk_level,  # type: ignore[arg-type]
                                      reasons=list(row.reasons)),
    )


async def list_checkins(
    session: AsyncSession, *, graduate_id: uuid.UUID, actor: Principal, start: date | None, end: date | None,
    limit: int, cursor: str | None, now: datetime,
) -> schemas.CheckinPage:
    """Newest local day first; keyset on (local_date, id), served by (graduate_id, local_date)."""
    if start and end and start > end:
        raise ValidationFailed.one("from", "must not be after `to`")
    key = decode_cursor(cursor)
    query = select(Checkin).where(Checkin.graduate_id == graduate_id)
    if start:
        query = query.where(Checkin.local_date >= start)
    if end:
        query = query.where(Checkin.local_date <= end)
    if key is not None:
        day = date.fromisoformat(key.sort_value)
        query = query.where(before_key(Checkin.local_date, Checkin.id, day, key.id))
    query = query.order_by(Checkin.local_date.desc(), Checkin.id.desc()).limit(limit + 1)
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(session, actor=actor, resource="checkins", graduate_id=graduate_id, now=now)
    page = rows[:limit]
    return schemas.CheckinPage(
        items=[to_schema(r) for r in page],
        next_cursor=encode_cursor(page[-1].local_date.isoformat(), page[-1].id) if len(rows) > limit else None,
    )



