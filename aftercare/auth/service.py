"""Sign-in, refresh-token rotation and enrollment. Each act is one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth import passwords, tokens
from aftercare.auth.models import EnrollmentCode, RefreshToken, User
from aftercare.auth.principal import Principal
from aftercare.auth.ratelimit import FailureCounter
from aftercare.auth.schemas import EnrollRequest, Me, TokenPair, TokenRequest
from aftercare.config import Settings
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from aftercare.graduates.models import Graduate


@dataclass(frozen=True)
class LoginLimits:
    counter: FailureCounter
    per_account: int
    per_address: int
    window_seconds: int

    async def check(self, email: str, address: str) -> None:
        for key, limit in (
            (f"login:acct:{email}", self.per_account),
            (f"login:addr:{address}", self.per_address),
        ):
            count, retry_after = await self.counter.failures(key)
            if count >= limit:
                raise TooManyRequests("too many failed sign-ins; try again later", retry_after=retry_after)

    async def failed(self, email: str, address: str) -> None:
        await self.counter.add_failure(f"login:acct:{email}", self.window_seconds)
        await self.counter.add_failure(f"login:addr:{address}", self.window_seconds)

    async def succeeded(self, email: str) -> None:
        await self.counter.clear(f"login:acct:{email}")


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_in(
    session: AsyncSession,
    data: TokenRequest,
    *,
    settings: Settings,
    limits: LoginLimits,
    client_address: str,
    now: datetime,
) -> TokenPair:
    email = normalise_email(data.email)
    await limits.check(email, client_address)
    async with session.begin():
        user = await session.scalar(select(User).where(User.email == email))
        ok = passwords.verify_password(user.password_hash if user else None, data.password)
        if not ok or user is None or not user.active:
            await limits.failed(email, client_address)
            raise Unauthorized("wrong email or password")
        pair = await _issue_pair(session, user, settings=settings, family_id=uuid7(), now=now)
    await limits.succeeded(email)
    return pair


async def refresh(
    session: AsyncSession, refresh_token: str, *, settings: Settings, now: datetime
) -> TokenPair:
    token_hash = tokens.hash_token(refresh_token)
    async with session.begin():
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthorized("the refresh token is invalid or expired")
        # Rotate with a compare-and-set: of two requests racing with one token, exactly one wins.
        rotated = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if rotated.rowcount == 1:  # type: ignore[attr-defined]
            user = await session.get(User, row.user_id)
            if user is None or not user.active:
                raise Unauthorized("this account is deactivated")
            return await _issue_pair(session, user, settings=settings, family_id=row.family_id, now=now)
        # A rotated token came back: someone holds a copy. Revoke the whole sign-in (committed
        # by leaving the block normally, before the refusal below).
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    raise Unauthorized("this refresh token was already used; the session has been revoked")


async def enroll(
    session: AsyncSession,
    data: EnrollRequest,
    *,
    settings: Settings,
    limits: LoginLimits,
    client_address: str,
    now: datetime,
) -> TokenPair:
    problem = passwords.password_problem(data.password)
    if problem:
        raise ValidationFailed.one("password", problem)
    email = normalise_email(data.email)
    # Guessing codes is throttled like guessing passwords, per client address.
    await limits.check(f"enroll:{client_address}", client_address)
    code_hash = tokens.hash_enrollment_code(data.enrollment_code, secret=settings.jwt_secret)
    try:
        async with session.begin():
            code = await session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == code_hash))
            if code is None or code.used_at or code.revoked_at or code.expires_at <= now:
                await limits.failed(f"enroll:{client_address}", client_address)
                raise Unauthorized("the enrollment code is invalid, used or expired")
            claimed = await session.execute(
                update(EnrollmentCode)
                .where(EnrollmentCode.id == code.id, EnrollmentCode.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Unauthorized("the enrollment code is invalid, used or expired")
            graduate = await session.get(Graduate, code.graduate_id, with_for_update=True)
            if graduate is None:
                raise Unauthorized("the enrollment code is invalid, used or expired")
            user = User(
                id=uuid7(),
                email=email,
                password_hash=passwords.hash_password(data.password),
                role="graduate",
                display_name=graduate.display_name,
                active=True,
                created_at=now,
            )
            session.add(user)
            await session.flush()
            if graduate.user_id is not None:
                # Re-enrollment after a reissued code (lost phone): the new sign-in replaces the old.
                old_user = await session.get(User, graduate.user_id)
                if old_user is not None:
                    old_user.active = False
                    await session.execute(
                        update(RefreshToken).where(RefreshToken.user_id == old_user.id).values(revoked_at=now)
                    )
            graduate.user_id = user.id
            graduate.updated_at = now
            return await _issue_pair(
                session, user, settings=settings, family_id=uuid7(), now=now, graduate_id=graduate.id
            )
    except IntegrityError as exc:
        raise Conflict("an account with this email already exists") from exc


async def my_profile(session: AsyncSession, principal: Principal) -> Me:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized("unknown account")
    return Me(
        user_id=user.id,
        email=user.email,
        role=user.role,  # type: ignore[arg-type]
        display_name=user.display_name,
        graduate_id=principal.graduate_id,
    )


async def _issue_pair(
    session: AsyncSession,
    user: User,
    *,
    settings: Settings,
    family_id: uuid.UUID,
    now: datetime,
    graduate_id: uuid.UUID | None = None,
) -> TokenPair:
    if user.role == "graduate" and graduate_id is None:
        graduate_id = await session.scalar(select(Graduate.id).where(Graduate.user_id == user.id))
    principal = Principal(user_id=user.id, role=user.role, graduate_id=graduate_id)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access = tokens.issue_access_token(principal, secret=settings.jwt_secret, now=now, lifetime=lifetime)
    secret = tokens.new_secret_token()
    session.add(
        RefreshToken(
            id=uuid7(),
            user_id=user.id,
            family_id=family_id,
            token_hash=tokens.hash_token(secret),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    return TokenPair(
        access_token=access,
        refresh_token=secret,
        expires_in=int(lifetime.total_seconds()),
        role=user.role,
        user_id=user.id,
        graduate_id=graduate_id,  # type: ignore[arg-type]
    )
