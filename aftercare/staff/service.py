"""Staff accounts: created, listed and changed by supervisors; also the CLI's first supervisor."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth import passwords
from aftercare.auth.models import RefreshToken, User
from aftercare.auth.principal import STAFF_ROLES, Principal
from aftercare.auth.service import normalise_email
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, NotFound, ValidationFailed
from aftercare.pagination import Keyset
from aftercare.staff import schemas


def to_schema(user: User) -> schemas.StaffMember:
    return schemas.StaffMember(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=STAFF_ROLES[user.role],  # staff rows only: a graduate here is a KeyError, not a leak
        active=user.active,
        created_at=user.created_at,  # type: ignore[arg-type]
    )


async def create_staff(
    session: AsyncSession, data: schemas.StaffCreate, *, now: datetime, actor: Principal | None = None
) -> schemas.StaffMember:
    """A new staff account; audited as the act of ``actor`` (None: the CLI or the demo, "system")."""
    problem = passwords.password_problem(data.password)
    if problem:
        raise ValidationFailed.one("password", problem)
    user = User(
        id=uuid7(),
        email=normalise_email(data.email),
        password_hash=passwords.hash_password(data.password),
        role=data.role,
        display_name=data.display_name,
        active=True,
        created_at=now,
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
    key = _CURSORS.decode(cursor)
    query = select(User).where(User.role != "graduate").order_by(User.id).limit(limit + 1)
    if key is not None:
        query = query.where(User.id > key.id)
    async with session.begin():
        rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    more = len(rows) > limit
    return schemas.StaffPage(
        items=[to_schema(u) for u in page],
        next_cursor=_CURSORS.encode(None, page[-1].id) if more else None,
    )


async def patch_staff(
    session: AsyncSession, staff_id: uuid.UUID, data: schemas.StaffPatch, *, actor: Principal, now: datetime
) -> schemas.StaffMember:
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
