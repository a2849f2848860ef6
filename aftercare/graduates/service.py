"""Graduate profiles, caseloads and enrollment codes."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

import msgspec
from sqlalchemy import exists, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.service import reassign_alerts
from aftercare.audit import service as audit
from aftercare.auth import tokens
from aftercare.auth.access import reach_condition
from aftercare.auth.models import EnrollmentCode, User
from aftercare.auth.principal import Principal
from aftercare.config import Settings
from aftercare.db.types import uuid7
from aftercare.errors import FieldError, Forbidden, NotFound, ValidationFailed
from aftercare.graduates import schemas
from aftercare.graduates.models import Graduate
from aftercare.pagination import Keyset
from aftercare.plans.reads import current_plan_body
from aftercare.program.service import current_rules
from aftercare.scheduling import localtime
from aftercare.scheduling.planner import QuietHours, checkin_time_conflicts
from aftercare.scheduling.service import replan_graduate

STAFF_ONLY_FIELDS = ("status", "discharge_date", "display_name")
SUPERVISOR_ONLY_FIELDS = ("counselor_id",)
# Changes that move prompts, reminders or the day's close (discharge stops them all).
SCHEDULE_FIELDS = {"timezone", "checkin_time", "quiet_hours", "status"}


async def lock_graduate(session: AsyncSession, graduate_id: uuid.UUID) -> Graduate:
    """The graduate's row, locked until the caller's transaction ends (a check-in flow's first
    read: the graduate's acts queue here one after another); 404 if there is none."""
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None:
        raise NotFound("graduate not found")
    return graduate


def to_schema(graduate: Graduate) -> schemas.Graduate:
    return schemas.Graduate(
        id=graduate.id,
        display_name=graduate.display_name,
        timezone=graduate.timezone,
        checkin_time=graduate.checkin_time,
        quiet_hours=quiet_hours_of(graduate),
        status=graduate.status,
        discharge_date=graduate.discharge_date,
        counselor_id=graduate.counselor_id,
        enrolled=graduate.user_id is not None,
        created_at=graduate.created_at,
        updated_at=graduate.updated_at,
        last_checkin_date=graduate.last_checkin_date,
        streak_days=graduate.streak_days,
        risk_level=graduate.risk_level,  # type: ignore[arg-type]
        open_alerts=graduate.open_alerts,
    )


def quiet_hours_of(graduate: Graduate) -> schemas.QuietHours | None:
    if graduate.quiet_start is None or graduate.quiet_end is None:
        return None
    return schemas.QuietHours(start=graduate.quiet_start, end=graduate.quiet_end)


def planner_schedule_fields(
    checkin_time: str, quiet: schemas.QuietHours | None
) -> tuple[time, QuietHours | None]:
    """The wire's ``HH:MM`` strings as the planner's times."""
    planner_quiet = (
        QuietHours(start=time.fromisoformat(quiet.start), end=time.fromisoformat(quiet.end))
        if quiet
        else None
    )
    return time.fromisoformat(checkin_time), planner_quiet


def _validate_schedule_fields(timezone: str, checkin_time: str, quiet: schemas.QuietHours | None) -> None:
    errors: list[FieldError] = []
    if not localtime.is_valid_zone(timezone):
        errors.append(FieldError("timezone", f"unknown IANA time zone {timezone!r}"))
    if checkin_time_conflicts(*planner_schedule_fields(checkin_time, quiet)):
        message = "the daily check-in time falls inside quiet hours"
        errors += [FieldError("checkin_time", message), FieldError("quiet_hours", message)]
    if errors:
        raise ValidationFailed(errors)


async def _check_counselor(session: AsyncSession, counselor_id: uuid.UUID) -> None:
    role = await session.scalar(select(User.role).where(User.id == counselor_id, User.active.is_(True)))
    if role not in ("counselor", "supervisor"):
        raise ValidationFailed.one("counselor_id", "not an active counselor of this program")


async def _new_enrollment_code(
    session: AsyncSession, graduate_id: uuid.UUID, *, settings: Settings, now: datetime
) -> tuple[str, datetime]:
    """Issue a code; earlier unused codes of this graduate die with it."""
    await session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.graduate_id == graduate_id,
            EnrollmentCode.used_at.is_(None),
            EnrollmentCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    code = tokens.new_enrollment_code()
    expires_at = now + timedelta(days=settings.enrollment_code_days)
    session.add(
        EnrollmentCode(
            id=uuid7(),
            graduate_id=graduate_id,
            created_at=now,
            expires_at=expires_at,
            code_hash=tokens.hash_enrollment_code(code, secret=settings.jwt_secret),
        )
    )
    return code, expires_at


async def create_graduate(
    session: AsyncSession,
    data: schemas.GraduateCreate,
    *,
    actor: Principal,
    settings: Settings,
    now: datetime,
) -> schemas.GraduateCreated:
    quiet = schemas.DEFAULT_QUIET_HOURS if data.quiet_hours is msgspec.UNSET else data.quiet_hours
    _validate_schedule_fields(data.timezone, data.checkin_time, quiet)
    counselor_id = data.counselor_id
    if actor.role == "counselor":
        if counselor_id not in (None, actor.user_id):
            raise Forbidden("a counselor creates graduates on their own caseload; ask a supervisor to assign")
        counselor_id = actor.user_id
    async with session.begin():
        if counselor_id is not None:
            await _check_counselor(session, counselor_id)
        graduate = Graduate(
            id=uuid7(),
            display_name=data.display_name,
            timezone=data.timezone,
            counselor_id=counselor_id,
            checkin_time=data.checkin_time,
            quiet_start=quiet.start if quiet else None,
            quiet_end=quiet.end if quiet else None,
            status="active",
            discharge_date=data.discharge_date,
            created_at=now,
            updated_at=now,
            streak_days=0,
            risk_level="low",
            open_alerts=0,
        )
        session.add(graduate)
        await session.flush()
        code, expires_at = await _new_enrollment_code(session, graduate.id, settings=settings, now=now)
        # A new graduate has no plan yet: the daily prompt, its nudge and the day close only.
        await replan_graduate(
            session,
            graduate.id,
            plan=None,
            nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
            now=now,
        )
        await audit.record(
            session, actor=actor, action="create", resource="graduate", graduate_id=graduate.id, now=now
        )
    return schemas.GraduateCreated(
        **msgspec.structs.asdict(to_schema(graduate)),
        enrollment_code=code,
        enrollment_code_expires_at=expires_at,
    )


async def reissue_enrollment_code(
    session: AsyncSession, graduate_id: uuid.UUID, *, actor: Principal, settings: Settings, now: datetime
) -> schemas.EnrollmentCodeIssued:
    async with session.begin():
        code, expires_at = await _new_enrollment_code(session, graduate_id, settings=settings, now=now)
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="enrollment_code",
            graduate_id=graduate_id,
            now=now,
        )
    return schemas.EnrollmentCodeIssued(enrollment_code=code, expires_at=expires_at)


async def get_graduate(
    session: AsyncSession, graduate_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.Graduate:
    async with session.begin():
        graduate = await session.get(Graduate, graduate_id)
        if graduate is None:
            raise NotFound("graduate not found")
        await audit.record_staff_read(
            session, actor=actor, resource="graduate", graduate_id=graduate_id, now=now
        )
    return to_schema(graduate)


_CURSORS = Keyset[None](None)  # a caseload sorts by the graduates' UUIDv7 ids alone


async def list_caseload(
    session: AsyncSession,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
    now: datetime,
    needs_reassignment: bool | None = None,
) -> schemas.GraduatePage:
    """A counselor's caseload, or the whole program for a supervisor, in creation order.
    ``needs_reassignment``: only those whose counselor is deactivated (true), or the others (false)."""
    key = _CURSORS.decode(cursor)
    query = select(Graduate).order_by(Graduate.id).limit(limit + 1)
    if needs_reassignment is not None:
        orphaned = exists().where(User.id == Graduate.counselor_id, User.active.is_(False))
        query = query.where(orphaned if needs_reassignment else not_(orphaned))
    if actor.role == "counselor":
        query = query.where(reach_condition(actor, Graduate.counselor_id, now))
    if key is not None:
        query = query.where(Graduate.id > key.id)  # UUIDv7 ids sort by creation time
    async with session.begin():
        rows = list((await session.scalars(query)).all())
        await audit.record_staff_read(session, actor=actor, resource="caseload", graduate_id=None, now=now)
    page, more = rows[:limit], len(rows) > limit
    return schemas.GraduatePage(
        items=[to_schema(g) for g in page],
        next_cursor=_CURSORS.encode(None, page[-1].id) if more else None,
    )


async def patch_graduate(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    data: schemas.GraduatePatch,
    *,
    actor: Principal,
    now: datetime,
) -> schemas.Graduate:
    given = {f: v for f, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    refused = [f for f in given if f in SUPERVISOR_ONLY_FIELDS and actor.role != "supervisor"]
    refused += [f for f in given if f in STAFF_ONLY_FIELDS and not actor.is_staff]
    if refused:
        raise Forbidden(
            f"a {actor.role} may not change: {', '.join(sorted(refused))}", fields=sorted(refused)
        )
    async with session.begin():
        graduate = await session.get(Graduate, graduate_id, with_for_update=True)
        if graduate is None:
            raise NotFound("graduate not found")
        quiet = given["quiet_hours"] if "quiet_hours" in given else quiet_hours_of(graduate)
        _validate_schedule_fields(
            given.get("timezone", graduate.timezone), given.get("checkin_time", graduate.checkin_time), quiet
        )
        if "counselor_id" in given:
            await _check_counselor(session, given["counselor_id"])
            # The graduate's alerts follow them to the new counselor's feed (and stream scope).
            await reassign_alerts(session, graduate_id, given["counselor_id"])
        for name, value in given.items():
            if name == "quiet_hours":
                graduate.quiet_start = quiet.start if quiet else None
                graduate.quiet_end = quiet.end if quiet else None
            else:
                setattr(graduate, name, value)
        graduate.updated_at = now
        if given.keys() & SCHEDULE_FIELDS:
            await replan_graduate(
                session,
                graduate_id,
                plan=await current_plan_body(session, graduate_id),
                nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
                now=now,
            )
        await audit.record(
            session, actor=actor, action="update", resource="graduate", graduate_id=graduate_id, now=now
        )
        if "counselor_id" in given:
            # Who may see this graduate's record changed: its own row, naming the new counselor.
            await audit.record(
                session,
                actor=actor,
                action="update",
                resource="assignment",
                graduate_id=graduate_id,
                resource_id=str(given["counselor_id"]),
                now=now,
            )
    return to_schema(graduate)
