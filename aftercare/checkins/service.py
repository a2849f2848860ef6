"""Daily check-ins: their rules (the day, the plan's ids, amendable until when), their readers and
writers, and listing.

Submitting, amending and "help now" cross slices (alerts, plans, the engine), so they are flows
(``aftercare/flows/``): each opens the transaction, reads with the readers here, decides with the pure
step, writes with the writers here, and commits. Nothing here commits but ``list_checkins``, which
is this slice's own read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import case, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

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
from aftercare.i18n import Locale, Text, _, translate
from aftercare.pagination import by_day_newest_first, next_day_cursor
from aftercare.plans.schemas import CrisisPlan, PlanBody
from aftercare.plans.validation import PlanIds
from aftercare.rules.aggregates import CheckinFacts, facts_of
from aftercare.rules.config import ProgramSettings
from aftercare.rules.engine import WINDOW_DAYS, Assessment
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
result_encoder = msgspec.json.Encoder()
_help_decoder = msgspec.json.Decoder(schemas.HelpResult)

_checkins = table_of(Checkin)
# What the engine reads of each check-in in its window (``rules.aggregates.facts_of``).
WINDOW_COLUMNS = (
    _checkins.c.local_date,
    _checkins.c.mood,
    _checkins.c.craving,
    _checkins.c.stress,
    _checkins.c.sleep_hours,
    _checkins.c.used,
    _checkins.c.attended_support,
    # As the engine judged it: an unanswered day whose doses were all marked taken is a yes
    # (``rules.doses``), so a later day's window reads it as the backtest's does.
    case((_checkins.c.took_medication_from_doses, true()), else_=_checkins.c.took_medication).label(
        "took_medication"
    ),
    _checkins.c.isolating,
    _checkins.c.triggers,
    _checkins.c.coping_used,
    _checkins.c.safety_concern,
)


def fingerprint(data: msgspec.Struct) -> str:
    """Hash of the decoded body: ``null`` and an omitted optional field encode alike."""
    return hashlib.sha256(result_encoder.encode(data)).hexdigest()


def check_local_date(local_date: date, timezone: str, now: datetime) -> None:
    today = localtime.local_today(now, localtime.zone(timezone))
    if local_date > today:
        raise ValidationFailed.one(
            "local_date", _("is in the future (today is %(today)s locally)", today=today.isoformat())
        )
    if local_date < today - timedelta(days=MAX_SYNC_AGE_DAYS):
        raise ValidationFailed.one("local_date", _("is more than %(days)d days old", days=MAX_SYNC_AGE_DAYS))


def check_plan_refs(known: PlanIds, triggers: list[str], coping_used: list[str]) -> None:
    errors = [
        FieldError(f"triggers[{i}]", _("unknown trigger id %(id)r", id=t))
        for i, t in enumerate(triggers)
        if t not in known.trigger_ids
    ]
    errors += [
        FieldError(f"coping_used[{i}]", _("unknown coping skill id %(id)r", id=c))
        for i, c in enumerate(coping_used)
        if c not in known.coping_skill_ids
    ]
    if errors:
        raise ValidationFailed(errors)


class Crisis(msgspec.Struct, frozen=True, kw_only=True):
    """The crisis line one graduate is given, and the language to give it in."""

    number: str
    language_option: str | None
    text_keyword: str | None
    locale: Locale


def crisis_for(program: ProgramSettings, locale: Locale, *, operator_line: str) -> Crisis:
    """The program's crisis line for readers of ``locale``; its number defaults to the operator's
    (``AFTERCARE_CRISIS_LINE``)."""
    line = program.crisis_lines[locale]
    return Crisis(
        number=line.number or operator_line,
        language_option=line.language_option,
        text_keyword=line.text_keyword,
        locale=locale,
    )


def support_for(plan: PlanBody | None, facts: CheckinFacts, crisis: Crisis) -> schemas.Support:
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
    crisis_plan = crisis_plan_of(plan, crisis) if facts.safety_concern else None
    return schemas.Support(coping_suggestions=suggestions, crisis=crisis_plan)


def crisis_plan_of(plan: PlanBody | None, crisis: Crisis) -> CrisisPlan:
    """The plan's own crisis plan, as its counselor wrote it; else the program's, in the graduate's
    language."""
    if plan is not None and plan.crisis_plan is not None:
        return plan.crisis_plan
    call, text = _reach(crisis)
    steps = [
        _(
            "Reach your crisis line now: %(call)s, or %(text)s. If you are in danger, call your local emergency number.",
            call=call,
            text=text,
        ),
        _("Reach out to someone you trust and stay with them."),
    ]
    return CrisisPlan(steps=[translate(step, crisis.locale) for step in steps], crisis_line=crisis.number)


def help_message(crisis: Crisis) -> str:
    """What "help now" answers besides the crisis plan: the service is not an emergency service."""
    call, text = _reach(crisis)
    return translate(
        _(
            "Your counselor has been alerted. Aftercare is not an emergency service: if you are in "
            "danger or thinking of harming yourself, don't wait: %(call)s, or %(text)s. You can also "
            "call your local emergency number.",
            call=call,
            text=text,
        ),
        crisis.locale,
    )


def _reach(crisis: Crisis) -> tuple[Text, Text]:
    """How to call and how to text the line, each as a clause."""
    line = crisis.number
    call = (
        # TRANSLATORS: the option reaches someone speaking the language of this translation.
        _(
            "call %(line)s and press %(option)s to talk with someone in English",
            line=line,
            option=crisis.language_option,
        )
        if crisis.language_option
        else _("call %(line)s", line=line)
    )
    text = (
        _("text %(keyword)s to %(line)s", keyword=crisis.text_keyword, line=line)
        if crisis.text_keyword
        else _("text %(line)s", line=line)
    )
    return call, text


async def checkins_around(
    session: AsyncSession, graduate_id: uuid.UUID, day: date, *, after_days: int
) -> list[CheckinFacts]:
    """What ``rules.step.checkin_step`` reads of the other days: check-ins of the engine's bounded
    window (the 27 local days before ``day``) and of the ``after_days`` after it (a repeat lapse),
    oldest first, served by the unique (graduate_id, local_date) index."""
    rows = await session.execute(
        select(*WINDOW_COLUMNS)
        .where(
            Checkin.graduate_id == graduate_id,
            Checkin.local_date >= day - timedelta(days=WINDOW_DAYS - 1),
            Checkin.local_date <= day + timedelta(days=after_days),
            Checkin.local_date != day,
        )
        .order_by(Checkin.local_date)
    )
    return [facts_of(row) for row in rows]


def wire_assessment(assessment: Assessment) -> schemas.Assessment:
    """The engine's assessment as the API shows it (score, level, reasons; the hits stay inside)."""
    return schemas.Assessment(
        risk_score=assessment.risk_score, risk_level=assessment.risk_level, reasons=list(assessment.reasons)
    )


def amend_deadline(local_date: date, timezone: str) -> datetime:
    """Amendments are allowed until the end of the local day after ``local_date``."""
    return localtime.day_bounds(local_date + timedelta(days=1), localtime.zone(timezone))[1]


async def lock_for_amending(
    session: AsyncSession, *, graduate_id: uuid.UUID, checkin_id: uuid.UUID, timezone: str, now: datetime
) -> Checkin:
    """The graduate's check-in, locked, if it may still be amended: else 404 or 403."""
    checkin = await session.get(Checkin, checkin_id, with_for_update=True)
    if checkin is None or checkin.graduate_id != graduate_id:
        raise NotFound(_("check-in not found"))
    if now >= amend_deadline(checkin.local_date, timezone):
        raise Forbidden(_("a check-in can be amended until the end of the next local day"))
    return checkin


def amend_answers(
    session: AsyncSession, checkin: Checkin, changes: dict[str, Any], *, now: datetime
) -> CheckinFacts:
    """Keep the check-in's current answers as a version, then apply ``changes``; its facts after."""
    session.add(
        CheckinVersion(
            id=uuid7(),
            checkin_id=checkin.id,
            graduate_id=checkin.graduate_id,
            version=checkin.version,
            local_date=checkin.local_date,
            amended_at=now,
            answers={name: getattr(checkin, name) for name in ANSWER_FIELDS},
        )
    )
    for name, value in changes.items():
        setattr(checkin, name, value)
    return facts_of(checkin)


def store_assessment(checkin: Checkin, assessment: schemas.Assessment, *, now: datetime) -> None:
    """The amended check-in's new assessment; its version moves on."""
    checkin.version += 1
    checkin.updated_at = now
    checkin.risk_score, checkin.risk_level = assessment.risk_score, assessment.risk_level
    checkin.reasons = assessment.reasons


async def find_help_replay(
    session: AsyncSession, *, graduate_id: uuid.UUID, client_id: uuid.UUID, fingerprint: str
) -> schemas.HelpResult | None:
    """The stored answer to an earlier help request with this ``client_id``, if there was one; a
    different body under the same ``client_id`` is a 409."""
    row = (
        await session.execute(
            select(HelpRequest.fingerprint, HelpRequest.stored_response).where(
                HelpRequest.graduate_id == graduate_id, HelpRequest.client_id == client_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyConflict(_("this client_id was used for a different help request"))
    return _help_decoder.decode(row.stored_response)


def add_help_request(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    data: schemas.HelpCreate,
    result: schemas.HelpResult,
    fingerprint: str,
) -> None:
    """Store the help request with the answer it got, so a retry gets the very same answer."""
    session.add(
        HelpRequest(
            id=result.id,
            graduate_id=graduate_id,
            client_id=data.client_id,
            message=data.message,
            alert_id=result.alert_id,
            received_at=result.received_at,
            fingerprint=fingerprint,
            stored_response=result_encoder.encode(result),
        )
    )


async def checkins_behind(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    checkin_ids: Iterable[uuid.UUID],
    local_dates: Iterable[date],
) -> list[schemas.Checkin]:
    """The graduate's check-ins with these ids or on these local days, oldest day first (an
    alert's: those its events name and those its evidence cites)."""
    ids, days = set(checkin_ids), set(local_dates)
    if not ids and not days:
        return []
    rows = await session.scalars(
        select(Checkin)
        .where(Checkin.graduate_id == graduate_id, or_(Checkin.id.in_(ids), Checkin.local_date.in_(days)))
        .order_by(Checkin.local_date)
    )
    return [to_schema(row) for row in rows]


async def help_requests_for(session: AsyncSession, alert_id: uuid.UUID) -> list[schemas.HelpRequest]:
    """The help requests that opened, raised or re-opened the alert, oldest first."""
    rows = await session.scalars(
        select(HelpRequest).where(HelpRequest.alert_id == alert_id).order_by(HelpRequest.received_at)
    )
    return [schemas.HelpRequest(id=row.id, received_at=row.received_at, message=row.message) for row in rows]


async def record_missed_day(
    session: AsyncSession, *, graduate_id: uuid.UUID, local_date: date, now: datetime
) -> None:
    """The day's window closed: a day without a check-in is recorded as missed (once)."""
    has_checkin = await session.scalar(
        select(Checkin.id).where(Checkin.graduate_id == graduate_id, Checkin.local_date == local_date)
    )
    if has_checkin is None and await session.get(MissedDay, (graduate_id, local_date)) is None:
        session.add(MissedDay(graduate_id=graduate_id, local_date=local_date, closed_at=now))


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
    query = by_day_newest_first(
        select(Checkin).where(Checkin.graduate_id == graduate_id),
        day=Checkin.local_date,
        item_id=Checkin.id,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
    )
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=actor, resource="checkins", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.CheckinPage(
        items=[to_schema(r) for r in page],
        next_cursor=next_day_cursor(rows, limit),
    )
