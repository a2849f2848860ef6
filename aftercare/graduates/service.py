"""Graduate profiles, caseloads and enrollment codes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from sqlalchemy import exists, false, not_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.service import reassign_alerts
from aftercare.audit import service as audit
from aftercare.auth import tokens
from aftercare.auth.access import reach_condition
from aftercare.auth.models import EnrollmentCode, User
from aftercare.auth.principal import Principal
from aftercare.config import Settings
from aftercare.db.types import uuid7
from aftercare.errors import FieldError, Forbidden, InvalidCursor, NotFound, ValidationFailed
from aftercare.graduates import schemas, zones
from aftercare.graduates.models import RISK_ORDER, Graduate, name_key, silence_start
from aftercare.i18n import _
from aftercare.pagination import Key, Keyset, after_key, before_key
from aftercare.program.service import current_rules
from aftercare.scheduling import localtime
from aftercare.scheduling.planner import QuietHours, checkin_time_conflicts
from aftercare.scheduling.service import replan_graduate

STAFF_ONLY_FIELDS = ("status", "discharge_date", "display_name")
SUPERVISOR_ONLY_FIELDS = ("counselor_id",)
# Changes that move prompts, reminders or the day's close (discharge stops them all: flows.discharge).
# A locale change re-plans too: the rows hold the next push's title in the graduate's language.
SCHEDULE_FIELDS = {"timezone", "checkin_time", "quiet_hours", "status", "locale"}


async def lock_graduate(session: AsyncSession, graduate_id: uuid.UUID, *, erased: bool = False) -> Graduate:
    """The graduate's row, locked until the caller's transaction ends (a check-in flow's first
    read: the graduate's acts queue here one after another); 404 if there is none, or if their data
    was erased (an act that passed the guard just before the erasure finds them gone once it has the
    lock). ``erased``: the tombstone is found too (the erasure itself)."""
    graduate = await session.get(Graduate, graduate_id, with_for_update=True)
    if graduate is None or (graduate.erased_at is not None and not erased):
        raise NotFound(_("graduate not found"))
    return graduate


def to_schema(graduate: Graduate, *, now: datetime) -> schemas.Graduate:
    """The wire form, with what depends on the graduate's local today computed for ``now``."""
    today = localtime.local_today(now, localtime.zone(graduate.timezone))
    last = graduate.last_checkin_date
    days_since = None if last is None else max(0, (today - last).days)
    return schemas.Graduate(
        id=graduate.id,
        display_name=graduate.display_name,
        timezone=graduate.timezone,
        checkin_time=graduate.checkin_time,
        quiet_hours=quiet_hours_of(graduate),
        status=graduate.status,
        discharge_date=graduate.discharge_date,
        counselor_id=graduate.counselor_id,
        locale=graduate.locale,
        enrolled=graduate.user_id is not None,
        created_at=graduate.created_at,
        updated_at=graduate.updated_at,
        last_checkin_date=last,
        days_since_checkin=days_since,
        # The stored streak ends at the last check-in; a day closed since without one broke it.
        streak_days=graduate.streak_days if days_since is not None and days_since <= 1 else 0,
        risk_level=graduate.risk_level,
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


def _validate_schedule_fields(
    timezone: str,
    checkin_time: str,
    quiet: schemas.QuietHours | None,
    *,
    discharge_date: date | None,
    created_at: datetime,
) -> None:
    errors: list[FieldError] = []
    if not localtime.is_valid_zone(timezone):
        errors.append(FieldError("timezone", _("unknown IANA time zone %(zone)r", zone=timezone)))
    elif discharge_date is not None:
        enrolled_on = localtime.local_today(created_at, localtime.zone(timezone))
        if discharge_date < enrolled_on:
            errors.append(
                FieldError("discharge_date", f"is before enrollment ({enrolled_on.isoformat()}, local)")
            )
    if checkin_time_conflicts(*planner_schedule_fields(checkin_time, quiet)):
        message = _("the daily check-in time falls inside quiet hours")
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
    _validate_schedule_fields(
        data.timezone, data.checkin_time, quiet, discharge_date=data.discharge_date, created_at=now
    )
    today = localtime.local_today(now, localtime.zone(data.timezone))
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
            name_key=name_key(data.display_name),
            timezone=data.timezone,
            counselor_id=counselor_id,
            checkin_time=data.checkin_time,
            locale=data.locale,
            quiet_start=quiet.start if quiet else None,
            quiet_end=quiet.end if quiet else None,
            # A discharge date of today has begun already: nothing to plan (nor any alert to close).
            status="discharged"
            if data.discharge_date is not None and data.discharge_date <= today
            else "active",
            discharge_date=data.discharge_date,
            admitted_on=today,
            created_at=now,
            updated_at=now,
            silent_since=silence_start(None, today),
            streak_days=0,
            risk_level="low",
            last_assessed_level="low",
            open_alerts=0,
        )
        session.add(graduate)
        await session.flush()
        await zones.record_timezone(session, graduate.id, data.timezone, now=now)
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
        **msgspec.structs.asdict(to_schema(graduate, now=now)),
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
) -> schemas.GraduateDetail:
    async with session.begin():
        graduate = await session.get(Graduate, graduate_id)
        if graduate is None:
            raise NotFound(_("graduate not found"))
        history = await zones.latest_changes(session, graduate_id)
        await audit.record_staff_read(
            session, actor=actor, resource="graduate", graduate_id=graduate_id, now=now
        )
    return to_detail(graduate, history, now=now)


def to_detail(
    graduate: Graduate, history: list[schemas.TimezoneChange], *, now: datetime
) -> schemas.GraduateDetail:
    return schemas.GraduateDetail(
        **msgspec.structs.asdict(to_schema(graduate, now=now)), timezone_history=history
    )


def patch_fields(data: schemas.GraduatePatch, *, actor: Principal) -> dict[str, Any]:
    """The fields a PATCH sets (omitted ones stay); 403 naming those the caller's role may not change."""
    given = {f: v for f, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    refused = [f for f in given if f in SUPERVISOR_ONLY_FIELDS and actor.role != "supervisor"]
    refused += [f for f in given if f in STAFF_ONLY_FIELDS and not actor.is_staff]
    if refused:
        raise Forbidden(
            _("a %(role)s may not change: %(fields)s", role=actor.role, fields=", ".join(sorted(refused))),
            fields=sorted(refused),
        )
    return given


async def apply_patch(
    session: AsyncSession, graduate: Graduate, given: dict[str, Any], *, now: datetime
) -> None:
    """Validate ``given`` (from ``patch_fields``, ``status`` taken out: discharge and re-admission are
    flows) against the locked ``graduate`` and set it, in the caller's transaction. Re-planning is
    the caller's too (``SCHEDULE_FIELDS``)."""
    quiet = given["quiet_hours"] if "quiet_hours" in given else quiet_hours_of(graduate)
    _validate_schedule_fields(
        given.get("timezone", graduate.timezone),
        given.get("checkin_time", graduate.checkin_time),
        quiet,
        discharge_date=given.get("discharge_date"),
        created_at=graduate.created_at,
    )
    if "counselor_id" in given:
        await _check_counselor(session, given["counselor_id"])
        # The graduate's alerts follow them to the new counselor's feed (and stream scope).
        await reassign_alerts(session, graduate.id, given["counselor_id"])
    for name, value in given.items():
        if name == "quiet_hours":
            graduate.quiet_start = quiet.start if quiet else None
            graduate.quiet_end = quiet.end if quiet else None
        else:
            setattr(graduate, name, value)
    if "display_name" in given:
        graduate.name_key = name_key(graduate.display_name)
    graduate.updated_at = now


RiskOrder = Annotated[int, msgspec.Meta(ge=0, le=max(RISK_ORDER.values()))]
OpenAlerts = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]  # the column's range on both engines
# The end of every name that starts with a prefix, in code point order (``models.name_key``).
_AFTER_EVERY_NAME = "\U0010ffff"


class _Sort(NamedTuple):
    """One order of the caseload: its columns before the id (an index on the same columns, led by
    ``counselor_id`` or not, serves it), its direction, and its cursors."""

    columns: tuple[Any, ...]
    ascending: bool
    cursors: Keyset[Any]


SORTS: dict[schemas.CaseloadSort, _Sort] = {
    "risk": _Sort(
        (Graduate.risk_order, Graduate.silent_since),
        ascending=True,
        cursors=Keyset(tuple[Literal["risk"], RiskOrder, date]),
    ),
    "last_checkin": _Sort(
        (Graduate.silent_since,), ascending=True, cursors=Keyset(tuple[Literal["last_checkin"], date])
    ),
    "open_alerts": _Sort(
        (Graduate.open_alerts,), ascending=False, cursors=Keyset(tuple[Literal["open_alerts"], OpenAlerts])
    ),
    # The name is read again by id (``_key_values``): a cursor travels in a URL, a name must not.
    "name": _Sort((Graduate.name_key,), ascending=True, cursors=Keyset(Literal["name"])),
}


def _cursor_value(sort: schemas.CaseloadSort, graduate: Graduate) -> Any:
    if sort == "risk":
        return ("risk", graduate.risk_order, graduate.silent_since)
    if sort == "last_checkin":
        return ("last_checkin", graduate.silent_since)
    if sort == "open_alerts":
        return ("open_alerts", graduate.open_alerts)
    return "name"


async def _key_values(
    session: AsyncSession, sort: schemas.CaseloadSort, key: Key[Any], scope: Any
) -> tuple[Any, ...]:
    """The sort values a page starts after: the cursor's, or, by name, the name of the cursor's
    graduate as it is now (within the caller's reach: another caseload's id finds nothing)."""
    if sort != "name":
        return tuple(key.sort_value[1:])  # after the sort's name
    found = await session.scalar(select(Graduate.name_key).where(Graduate.id == key.id, *scope))
    if found is None:
        raise InvalidCursor()
    return (found,)


def _pinned(query: schemas.CaseloadQuery) -> int | None:
    """The one value a filter leaves the sort's first column (one risk level; no open alerts)."""
    if query.sort == "risk" and len(set(query.risk_levels)) == 1:
        return RISK_ORDER[query.risk_levels[0]]
    if query.sort == "open_alerts" and query.has_open_alerts is False:
        return 0
    return None


def _after(sort: _Sort, query: schemas.CaseloadQuery, values: tuple[Any, ...], item_id: uuid.UUID) -> Any:
    """Rows after the cursor: one row-value comparison over the sort's columns and the id (each sort
    has few distinct values, so ``before_key``'s one-column form would scan every tie before the
    cursor). Where a filter pins the first column to one value, that column leaves the comparison:
    SQLite otherwise ranges the index on the filter's equality alone."""
    columns = sort.columns
    pinned = _pinned(query)
    if pinned is not None:
        if values[0] != pinned:  # a cursor from another filter: all of them, or none
            return true() if (pinned > values[0]) == sort.ascending else false()
        columns, values = columns[1:], values[1:]
    keyset = after_key if sort.ascending else before_key
    return keyset(tuple(columns), Graduate.id, values, item_id)


def _filters(query: schemas.CaseloadQuery, *, names_after: str | None) -> list[Any]:
    """The query's filters. ``names_after``: the name a page by name starts after, if any."""
    conditions: list[Any] = []
    if query.risk_levels:
        # By the computed order, not the level: the risk sort's index then ranges over it.
        conditions.append(Graduate.risk_order.in_(sorted({RISK_ORDER[level] for level in query.risk_levels})))
    if query.statuses:
        conditions.append(Graduate.status.in_(sorted(set(query.statuses))))
    if query.has_open_alerts is not None:
        conditions.append(Graduate.open_alerts > 0 if query.has_open_alerts else Graduate.open_alerts == 0)
    if query.needs_reassignment is not None:
        # Their counselor left (deactivated): the caseload a supervisor must hand to someone else.
        orphaned = exists().where(User.id == Graduate.counselor_id, User.active.is_(False))
        conditions.append(orphaned if query.needs_reassignment else not_(orphaned))
    if query.search is not None:
        prefix = name_key(query.search)
        if not prefix:
            raise ValidationFailed.one("search", "must hold a letter or digit, not only spaces and accents")
        # A range, not LIKE: both engines walk the name index for it, whatever the collation rules.
        # A later page by name starts past the prefix's start already: SQLite would range the index
        # from there (scanning the names before the cursor) if it were given both.
        if names_after is None or names_after < prefix:
            conditions.append(Graduate.name_key >= prefix)
        conditions.append(Graduate.name_key < prefix + _AFTER_EVERY_NAME)
    return conditions


async def list_caseload(
    session: AsyncSession,
    *,
    actor: Principal,
    query: schemas.CaseloadQuery,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.GraduatePage:
    """A counselor's caseload, or the whole program for a supervisor, in ``query.sort``'s order
    (``SORTS``), filtered; keyset-paged on the sort's columns and the id over an index that matches."""
    sort = SORTS[query.sort]
    key = sort.cursors.decode(cursor)
    # A counselor's own caseload, and an away colleague's while they cover it; never an erased
    # graduate's tombstone (few rows: a filter on the sort's index scan, not an index of its own).
    scope = [
        Graduate.erased_at.is_(None),
        *([reach_condition(actor, Graduate.counselor_id, now)] if actor.role == "counselor" else []),
    ]
    ids_in_order = Graduate.id if sort.ascending else Graduate.id.desc()
    columns_in_order = [c if sort.ascending else c.desc() for c in sort.columns]
    async with session.begin():
        values = None if key is None else await _key_values(session, query.sort, key, scope)
        names_after = values[0] if values is not None and query.sort == "name" else None
        statement = (
            select(Graduate)
            .where(*scope, *_filters(query, names_after=names_after))
            .order_by(*columns_in_order, ids_in_order)
            .limit(limit + 1)
        )
        if key is not None and values is not None:
            statement = statement.where(_after(sort, query, values, key.id))
        rows = list((await session.scalars(statement)).all())
        await audit.record_staff_read(session, actor=actor, resource="caseload", graduate_id=None, now=now)
    page, more = rows[:limit], len(rows) > limit
    return schemas.GraduatePage(
        items=[to_schema(g, now=now) for g in page],
        next_cursor=sort.cursors.encode(_cursor_value(query.sort, page[-1]), page[-1].id) if more else None,
    )
