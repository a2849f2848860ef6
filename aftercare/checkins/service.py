"""Daily check-ins: amend, "help now", the day's window close, listing, and what these share with
submitting (``checkins.submit``, the hot path, group-committed).

A check-in (or its amendment), its assessment, the alerts it opens or raises (with their events and
pushes), the graduate's running aggregates and the audit row are written in ONE transaction that
commits before the response is built: a 201 is never sent for something not stored, and an alert is
never lost because the request failed after the check-in was stored.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import service as alerts
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins import schemas
from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest, MissedDay
from aftercare.db.base import table_of
from aftercare.db.types import uuid7
from aftercare.errors import (
    FieldError,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    ValidationFailed,
)
from aftercare.graduates.models import Graduate
from aftercare.pagination import Keyset, before_key
from aftercare.plans import service as plans
from aftercare.plans.schemas import CrisisPlan, PlanBody
from aftercare.plans.validation import PlanIds
from aftercare.rules.aggregates import Aggregates, CheckinFacts, fold
from aftercare.rules.engine import WINDOW_DAYS, PlanFacts, RuleHit, assess, assess_silence
from aftercare.rules.plan_facts import plan_facts
from aftercare.rules.service import current_rules
from aftercare.scheduling import localtime

MAX_SYNC_AGE_DAYS = 7
ANSWER_FIELDS = (
    "mood",
    "craving",
    "stress",
    "used",
    "safety_concern",
    "sleep_hours",
    "attended_support",
    "took_medication",
    "isolating",
    "triggers",
    "coping_used",
    "note",
)
HELP_MESSAGE = (
    "Your counselor has been alerted. Aftercare is not an emergency service: if you are in danger or "
    "thinking of harming yourself, call your crisis line now, or your local emergency number."
)
result_encoder = msgspec.json.Encoder()
_help_decoder = msgspec.json.Decoder(schemas.HelpResult)

_checkins = table_of(Checkin)
# What the engine reads of each check-in in its window (``facts_of``).
WINDOW_COLUMNS = (
    _checkins.c.local_date,
    _checkins.c.mood,
    _checkins.c.craving,
    _checkins.c.stress,
    _checkins.c.sleep_hours,
    _checkins.c.used,
    _checkins.c.attended_support,
    _checkins.c.took_medication,
    _checkins.c.isolating,
    _checkins.c.triggers,
    _checkins.c.coping_used,
    _checkins.c.safety_concern,
)


def fingerprint(data: msgspec.Struct) -> str:
    """Hash of the decoded body: ``null`` and an omitted optional field encode alike."""
    return hashlib.sha256(result_encoder.encode(data)).hexdigest()


def facts_of(row: Any) -> CheckinFacts:
    return CheckinFacts(
        local_date=row.local_date,
        mood=row.mood,
        craving=row.craving,
        stress=row.stress,
        sleep_hours=row.sleep_hours,
        used=row.used,
        attended_support=row.attended_support,
        took_medication=row.took_medication,
        isolating=row.isolating,
        triggers=tuple(row.triggers),
        coping_used=tuple(row.coping_used),
        safety_concern=row.safety_concern,
    )


async def _load_graduate(session: AsyncSession, graduate_id: uuid.UUID) -> Graduate:
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None:
        raise NotFound("graduate not found")
    return graduate


def check_local_date(local_date: date, timezone: str, now: datetime) -> None:
    today = localtime.local_today(now, localtime.zone(timezone))
    if local_date > today:
        raise ValidationFailed.one("local_date", f"is in the future (today is {today.isoformat()} locally)")
    if local_date < today - timedelta(days=MAX_SYNC_AGE_DAYS):
        raise ValidationFailed.one("local_date", f"is more than {MAX_SYNC_AGE_DAYS} days old")


def check_plan_refs(known: PlanIds, triggers: list[str], coping_used: list[str]) -> None:
    errors = [
        FieldError(f"triggers[{i}]", f"unknown trigger id {t!r}")
        for i, t in enumerate(triggers)
        if t not in known.trigger_ids
    ]
    errors += [
        FieldError(f"coping_used[{i}]", f"unknown coping skill id {c!r}")
        for i, c in enumerate(coping_used)
        if c not in known.coping_skill_ids
    ]
    if errors:
        raise ValidationFailed(errors)


async def _window_before(session: AsyncSession, graduate_id: uuid.UUID, day: date) -> list[CheckinFacts]:
    """The engine's bounded window: check-ins of the 27 local days before ``day``, oldest first
    (served by the unique (graduate_id, local_date) index)."""
    rows = await session.execute(
        select(*WINDOW_COLUMNS)
        .where(
            Checkin.graduate_id == graduate_id,
            Checkin.local_date >= day - timedelta(days=WINDOW_DAYS - 1),
            Checkin.local_date < day,
        )
        .order_by(Checkin.local_date)
    )
    return [facts_of(row) for row in rows]


def support_for(plan: PlanBody | None, facts: CheckinFacts, crisis_line: str) -> schemas.Support:
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
    return CrisisPlan(
        steps=[
            "Call your crisis line or emergency number now.",
            "Reach out to someone you trust and stay with them.",
        ],
        crisis_line=crisis_line,
    )


def assess_and_alert(
    changes: alerts.AlertChanges,
    *,
    graduate_id: uuid.UUID,
    counselor_id: uuid.UUID | None,
    window: list[CheckinFacts],
    aggregates_before: Aggregates,
    plan: PlanFacts,
    now: datetime,
) -> schemas.Assessment:
    """Assess the window (the day judged last); what its hits do to the alerts goes into ``changes``,
    which the caller writes in the same transaction."""
    assessment = assess(window, aggregates_before, plan, changes.rules)
    if assessment.hits:
        changes.apply(
            graduate_id=graduate_id,
            counselor_id=counselor_id,
            hits=assessment.hits,
            local_date=window[-1].local_date,
            now=now,
        )
    return schemas.Assessment(
        risk_score=assessment.risk_score, risk_level=assessment.risk_level, reasons=list(assessment.reasons)
    )


def amend_deadline(local_date: date, timezone: str) -> datetime:
    """Amendments are allowed until the end of the local day after ``local_date``."""
    return localtime.day_bounds(local_date + timedelta(days=1), localtime.zone(timezone))[1]


async def amend_checkin(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    checkin_id: uuid.UUID,
    data: schemas.CheckinAmend,
    actor: Principal,
    crisis_line: str,
    now: datetime,
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
            check_plan_refs(
                await plans.known_plan_ids(session, graduate_id),
                changes.get("triggers", []),
                changes.get("coping_used", []),
            )
        session.add(
            CheckinVersion(
                id=uuid7(),
                checkin_id=checkin.id,
                graduate_id=graduate_id,
                version=checkin.version,
                local_date=checkin.local_date,
                amended_at=now,
                answers={name: getattr(checkin, name) for name in ANSWER_FIELDS},
            )
        )
        for name, value in changes.items():
            setattr(checkin, name, value)
        plan = await plans.current_plan_body(session, graduate_id)
        rules = await current_rules(session)
        facts = facts_of(checkin)
        aggregates_before = msgspec.convert(checkin.aggregates_before, Aggregates)
        read_plan = plan_facts(plan)
        window = [*await _window_before(session, graduate_id, facts.local_date), facts]
        alert_changes = await alerts.AlertChanges.load(session, [graduate_id], rules)
        assessment = assess_and_alert(
            alert_changes,
            graduate_id=graduate_id,
            counselor_id=graduate.counselor_id,
            window=window,
            aggregates_before=aggregates_before,
            plan=read_plan,
            now=now,
        )
        await alert_changes.write(session)
        checkin.version += 1
        checkin.updated_at = now
        checkin.risk_score, checkin.risk_level = assessment.risk_score, assessment.risk_level
        checkin.reasons = assessment.reasons
        if checkin.local_date == graduate.last_checkin_date:
            # The latest day: its answers are the last folded, so fold the amended ones instead.
            graduate.aggregates = msgspec.to_builtins(
                fold(aggregates_before, facts, trigger_coping=read_plan.trigger_coping)
            )
            graduate.risk_level = assessment.risk_level
        graduate.updated_at = now
        await audit.record(
            session,
            actor=actor,
            action="update",
            resource="checkin",
            graduate_id=graduate_id,
            resource_id=str(checkin.id),
            now=now,
        )
    return schemas.CheckinResult(
        **msgspec.structs.asdict(to_schema(checkin)), support=support_for(plan, facts, crisis_line)
    )


async def request_help(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.HelpCreate,
    actor: Principal,
    crisis_line: str,
    now: datetime,
) -> tuple[schemas.HelpResult, bool]:
    """ "I need help now": never refused by day or window rules; opens or raises a critical safety
    alert and re-opens an acknowledged one. Idempotent by ``client_id``. Returns (body, replayed)."""
    fp = fingerprint(data)
    async with session.begin():
        # Lock the graduate first: a phone's retries queue here, then find their twin just below.
        graduate = await _load_graduate(session, graduate_id)
        row = (
            await session.execute(
                select(HelpRequest.fingerprint, HelpRequest.stored_response).where(
                    HelpRequest.graduate_id == graduate_id, HelpRequest.client_id == data.client_id
                )
            )
        ).one_or_none()
        if row is not None:
            if row.fingerprint != fp:
                raise IdempotencyConflict("this client_id was used for a different help request")
            return _help_decoder.decode(row.stored_response), True
        rules = await current_rules(session)
        today = localtime.local_today(now, localtime.zone(graduate.timezone))
        hit = RuleHit(
            rule="safety",
            severity="critical",
            reasons=("asked for help now from the app",),
            evidence={"local_dates": [today.isoformat()], "values": {"help_request": True}},
        )
        touched = await alerts.apply_hits_for_graduate(
            session,
            graduate=graduate,
            hits=[hit],
            local_date=today,
            now=now,
            rules=rules,
            reopen_acknowledged=True,
        )
        plan = await plans.current_plan_body(session, graduate_id)
        help_id = uuid7()
        result = schemas.HelpResult(
            id=help_id,
            received_at=now,
            alert_id=touched[0] if touched else None,
            crisis=crisis_plan_of(plan, crisis_line),
            message=HELP_MESSAGE,
        )
        session.add(
            HelpRequest(
                id=help_id,
                graduate_id=graduate_id,
                client_id=data.client_id,
                message=data.message,
                received_at=now,
                fingerprint=fp,
                stored_response=result_encoder.encode(result),
            )
        )
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="help_request",
            graduate_id=graduate_id,
            resource_id=str(help_id),
            now=now,
        )
    return result, False


async def close_day(
    session: AsyncSession, *, graduate_id: uuid.UUID, local_date: date, now: datetime
) -> None:
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
        await alerts.apply_hits_for_graduate(
            session, graduate=graduate, hits=[hit], local_date=local_date, now=now, rules=rules
        )


def to_schema(row: Checkin) -> schemas.Checkin:
    return schemas.Checkin(
        id=row.id,
        graduate_id=row.graduate_id,
        client_id=row.client_id,
        local_date=row.local_date,
        received_at=row.received_at,
        updated_at=row.updated_at,
        version=row.version,
        **{name: getattr(row, name) for name in ANSWER_FIELDS},
        assessment=schemas.Assessment(
            risk_score=row.risk_score,
            risk_level=row.risk_level,  # type: ignore[arg-type]
            reasons=list(row.reasons),
        ),
    )


_CURSORS = Keyset[date](date)  # a graduate's check-ins' keys: (local_date, id)


async def list_checkins(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    actor: Principal,
    start: date | None,
    end: date | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.CheckinPage:
    """Newest local day first; keyset on (local_date, id), served by (graduate_id, local_date)."""
    if start and end and start > end:
        raise ValidationFailed.one("from", "must not be after `to`")
    key = _CURSORS.decode(cursor)
    query = select(Checkin).where(Checkin.graduate_id == graduate_id)
    if start:
        query = query.where(Checkin.local_date >= start)
    if end:
        query = query.where(Checkin.local_date <= end)
    if key is not None:
        query = query.where(before_key(Checkin.local_date, Checkin.id, key.sort_value, key.id))
    query = query.order_by(Checkin.local_date.desc(), Checkin.id.desc()).limit(limit + 1)
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=actor, resource="checkins", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.CheckinPage(
        items=[to_schema(r) for r in page],
        next_cursor=_CURSORS.encode(page[-1].local_date, page[-1].id) if len(rows) > limit else None,
    )
