"""Staff accounts: created, listed and changed by supervisors; also the CLI's first supervisor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth import passwords
from aftercare.auth.models import RefreshToken, User
from aftercare.auth.principal import STAFF_ROLES, Principal
from aftercare.auth.service import normalise_email
from aftercare.db.types import uuid7
from aftercare.errors import AwayOverlaps, Conflict, Forbidden, NotFound, ValidationFailed
from aftercare.pagination import Keyset
from aftercare.staff import schemas
from aftercare.staff.models import StaffAway


def to_schema(user: User) -> schemas.StaffMember:
    return schemas.StaffMember(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=STAFF_ROLES[user.role],  # staff rows only: a graduate here is a KeyError, not a leak
        active=user.active,
        created_at=user.created_at,  # type: ignore[arg-type]
        email_alerts=bool(user.email_alerts),
    )


async def create_staff(
    session: AsyncSession, data: schemas.StaffCreate, *, now: datetime, actor: Principal | None = None
) -> schemas.StaffMember:
    """A new staff account; audited as the act of ``actor`` (None: the CLI or the demo, "system")."""
    email = normalise_email(data.email)
    problem = passwords.password_problem(data.password, email=email)
    if problem:
        raise ValidationFailed.one("password", problem)
    user = User(
        id=uuid7(),
        email=email,
        password_hash=passwords.hash_password(data.password),
        role=data.role,
        display_name=data.display_name,
        active=True,
        created_at=now,
        email_alerts=False,
    )
    try:
        async with session.begin():
            session.add(user)
            await session.flush()  # the unique email is checked here, before the audit row
            await audit.record(
                session,
                actor=actor,
                action="create",
                resource="staff",
                graduate_id=None,
                now=now,
                resource_id=str(user.id),
            )
    except IntegrityError as exc:
        raise Conflict("an account with this email already exists") from exc
    return to_schema(user)


_CURSORS = Keyset[None](None)  # staff sort by their UUIDv7 id alone, so by creation


async def list_staff(session: AsyncSession, *, limit: int, cursor: str | None) -> schemas.StaffPage:
    page, next_cursor = await _staff_page(session, limit=limit, cursor=cursor, active_only=False)
    return schemas.StaffPage(items=[to_schema(u) for u in page], next_cursor=next_cursor)


async def list_colleagues(session: AsyncSession, *, limit: int, cursor: str | None) -> schemas.ColleaguePage:
    """Active staff as any staff member sees them: a counselor going away chooses a cover here."""
    page, next_cursor = await _staff_page(session, limit=limit, cursor=cursor, active_only=True)
    return schemas.ColleaguePage(
        items=[
            schemas.Colleague(id=u.id, display_name=u.display_name, role=STAFF_ROLES[u.role]) for u in page
        ],
        next_cursor=next_cursor,
    )


async def _staff_page(
    session: AsyncSession, *, limit: int, cursor: str | None, active_only: bool
) -> tuple[list[User], str | None]:
    key = _CURSORS.decode(cursor)
    query = select(User).where(User.role != "graduate").order_by(User.id).limit(limit + 1)
    if active_only:
        query = query.where(User.active.is_(True))
    if key is not None:
        query = query.where(User.id > key.id)
    async with session.begin():
        rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    return page, _CURSORS.encode(None, page[-1].id) if len(rows) > limit else None


async def patch_staff(
    session: AsyncSession,
    staff_id: uuid.UUID,
    data: schemas.StaffPatch,
    *,
    actor: Principal,
    now: datetime,
    email_enabled: bool,
) -> schemas.StaffMember:
    """A supervisor changes anything here; a counselor only their own ``email_alerts`` (the opt-in is
    theirs to give). Opting in needs a server that can send e-mail (``email_enabled``)."""
    given = [name for name, value in msgspec.structs.asdict(data).items() if value is not msgspec.UNSET]
    if actor.role != "supervisor" and (staff_id != actor.user_id or set(given) - {"email_alerts"}):
        raise Forbidden("a counselor may change only their own email_alerts")
    if data.email_alerts is True and not email_enabled:
        raise ValidationFailed.one(
            "email_alerts", "this server sends no e-mail (AFTERCARE_SMTP_URL is not set)"
        )
    async with session.begin():
        user = await session.get(User, staff_id, with_for_update=True)
        if user is None or user.role == "graduate":
            raise NotFound("staff member not found")
        if user.id == actor.user_id and (data.active is False or data.role == "counselor"):
            raise ValidationFailed.one(
                "active" if data.active is False else "role",
                "a supervisor cannot demote or deactivate themselves",
            )
        for name, value in msgspec.structs.asdict(data).items():
            if value is not msgspec.UNSET:
                setattr(user, name, value)
        await audit.record(
            session,
            actor=actor,
            action="update",
            resource="staff",
            graduate_id=None,
            now=now,
            resource_id=str(user.id),
        )
        if data.active is False:
            # Access tokens stop at once (the guard checks `active`); refresh tokens die here.
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
    return to_schema(user)


async def create_first_user(
    session: AsyncSession, *, email: str, password: str, role: str, display_name: str, now: datetime
) -> uuid.UUID:
    """The CLI's ``users create``: same rules as the API, no token needed."""
    data = schemas.StaffCreate(email=email, password=password, display_name=display_name, role=role)  # type: ignore[arg-type]
    return (await create_staff(session, data, now=now)).id


# -- away and cover ------------------------------------------------------------------------------

MAX_AWAY = timedelta(days=366)


def _away_schema(period: StaffAway) -> schemas.AwayPeriod:
    return schemas.AwayPeriod(
        id=period.id,
        staff_id=period.staff_id,
        start=period.starts_at,
        end=period.ends_at,
        covering_staff_id=period.covering_staff_id,
        note=period.note,
        created_at=period.created_at,
        created_by=period.created_by,
    )


async def away_at(session: AsyncSession, at: datetime) -> Sequence[StaffAway]:
    """Every period holding ``at``, in the caller's transaction (routing reads who covers whom)."""
    return (
        await session.scalars(select(StaffAway).where(StaffAway.starts_at <= at, StaffAway.ends_at > at))
    ).all()


def _may_manage_away(actor: Principal, staff_id: uuid.UUID) -> None:
    if actor.role != "supervisor" and actor.user_id != staff_id:
        raise Forbidden("a counselor sets only their own away periods; a supervisor sets anyone's")


async def _lock_staff(session: AsyncSession, staff_id: uuid.UUID) -> User:
    """The staff member's row, locked: their away periods change one writer at a time, so two
    overlapping periods can never both pass the overlap check."""
    user = await session.get(User, staff_id, with_for_update=True)
    if user is None or user.role == "graduate":
        raise NotFound("staff member not found")
    return user


async def set_away(
    session: AsyncSession, staff_id: uuid.UUID, data: schemas.AwayCreate, *, actor: Principal, now: datetime
) -> tuple[schemas.AwayPeriod, bool]:
    """``PUT /v1/staff/{id}/away``: a new period (True), or the same one again (False: a retry)."""
    _may_manage_away(actor, staff_id)
    start, end = data.start.astimezone(UTC), data.end.astimezone(UTC)
    if end <= start:
        raise ValidationFailed.one("until", "must be after from")
    if end <= now:
        raise ValidationFailed.one("until", "the period is already over")
    if end - start > MAX_AWAY:
        raise ValidationFailed.one("until", "a period lasts at most 366 days")
    async with session.begin():
        await _lock_staff(session, staff_id)
        cover = await session.get(User, data.covering_staff_id)
        if data.covering_staff_id == staff_id:
            raise ValidationFailed.one("covering_staff_id", "the cover must be someone else")
        if cover is None or cover.role == "graduate" or not cover.active:
            raise ValidationFailed.one("covering_staff_id", "not an active staff member of this program")
        overlapping = (
            await session.scalars(  # ix_staff_away_staff_id_starts_at
                select(StaffAway)
                .where(StaffAway.staff_id == staff_id, StaffAway.starts_at < end, StaffAway.ends_at > start)
                .order_by(StaffAway.starts_at)
            )
        ).all()
        for period in overlapping:
            if (period.starts_at, period.ends_at, period.covering_staff_id, period.note) == (
                start,
                end,
                data.covering_staff_id,
                data.note,
            ):
                return _away_schema(period), False
        if overlapping:
            raise AwayOverlaps(overlapping[0].id)
        period = StaffAway(
            id=uuid7(),
            staff_id=staff_id,
            starts_at=start,
            ends_at=end,
            covering_staff_id=data.covering_staff_id,
            note=data.note,
            created_at=now,
            created_by=actor.user_id,
        )
        session.add(period)
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="staff_away",
            graduate_id=None,
            resource_id=str(period.id),
            now=now,
        )
    return _away_schema(period), True


async def list_away(session: AsyncSession, staff_id: uuid.UUID, *, now: datetime) -> schemas.AwayPeriods:
    async with session.begin():
        user = await session.get(User, staff_id)
        if user is None or user.role == "graduate":
            raise NotFound("staff member not found")
        rows = (
            await session.scalars(
                select(StaffAway)
                .where(StaffAway.staff_id == staff_id, StaffAway.ends_at > now)
                .order_by(StaffAway.starts_at)
            )
        ).all()
    return schemas.AwayPeriods(items=[_away_schema(p) for p in rows])


async def end_away(
    session: AsyncSession,
    staff_id: uuid.UUID,
    *,
    away_id: uuid.UUID | None,
    actor: Principal,
    now: datetime,
) -> None:
    """``DELETE /v1/staff/{id}/away[/{away_id}]``: the period in progress (or ``away_id``) ends now;
    one that has not begun is removed. Reach returns to the counselor at once; nothing else moves."""
    _may_manage_away(actor, staff_id)
    async with session.begin():
        await _lock_staff(session, staff_id)
        query = select(StaffAway).where(StaffAway.staff_id == staff_id, StaffAway.ends_at > now)
        if away_id is None:
            query = query.where(StaffAway.starts_at <= now)
        else:
            query = query.where(StaffAway.id == away_id)
        period = await session.scalar(query)
        if period is None:
            raise NotFound("no away period in progress" if away_id is None else "away period not found")
        if period.starts_at > now:
            await session.execute(delete(StaffAway).where(StaffAway.id == period.id))
        else:
            period.ends_at = now
        await audit.record(
            session,
            actor=actor,
            action="delete" if period.starts_at > now else "update",
            resource="staff_away",
            graduate_id=None,
            resource_id=str(period.id),
            now=now,
        )
