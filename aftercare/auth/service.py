"""Sign-in, refresh-token rotation, enrollment, password change and sign-out. Each act is one
transaction.

Ending sessions: a refresh-token family is one sign-in (one device). ``logout`` revokes the family of
the token it is given; its access token lives out its minutes (it names no family, and checking one
on every request would cost a query). ``logout_all`` and ``change_password`` revoke every family of
the account and raise its ``token_generation``, so every access token issued before stops at once
too (the guard compares it on every request); ``change_password`` answers with a fresh pair, a new
family, for the device that changed it: the only session left."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth import passwords, tokens
from aftercare.auth.models import EnrollmentCode, RefreshToken, StreamTicket, User
from aftercare.auth.principal import Principal
from aftercare.auth.ratelimit import EnrollPolicy, FailureStore, SignInPolicy, enroll_wait, sign_in_wait
from aftercare.auth.schemas import EnrollRequest, Me, PasswordChange, TokenPair, TokenRequest
from aftercare.config import Settings
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed, WrongPassword
from aftercare.graduates.models import Graduate
from aftercare.i18n import _

# An enrollment code's first group (``ABCDE-FGHJK``): what someone who saw half a card knows.
ENROLLMENT_PREFIX_LENGTH = 5


@dataclass(frozen=True)
class LoginLimits:
    """Failed sign-ins and enrollments counted per account, address and code prefix; the policy is
    in ``auth/ratelimit.py``. Emails and codes are hashed into the keys: the store (Redis) never
    holds who tried to sign in."""

    store: FailureStore
    sign_in: SignInPolicy = field(default_factory=SignInPolicy)
    enrollment: EnrollPolicy = field(default_factory=EnrollPolicy)

    async def check_sign_in(self, email: str, address: str, *, now: datetime) -> None:
        account, by_address, pair = await self.store.read(_sign_in_keys(email, address), now=now.timestamp())
        wait, why = sign_in_wait(
            self.sign_in, account=account, address=by_address, pair=pair, now=now.timestamp()
        )
        if wait:
            raise TooManyRequests(_("%(why)s; try again in %(wait)d s", why=why, wait=wait), retry_after=wait)

    async def sign_in_failed(self, email: str, address: str, *, now: datetime) -> None:
        await self.store.add(
            _sign_in_keys(email, address), now=now.timestamp(), window_seconds=self.sign_in.window_seconds
        )

    async def sign_in_succeeded(self, email: str, address: str) -> None:
        """The right password: the account's budget and this address's failures for it start over
        (the address's own count does not: a success on one account must not buy tries on others)."""
        account, _by_address, pair = _sign_in_keys(email, address)
        await self.store.clear([account, pair])

    async def check_enrollment(self, code: str, address: str, *, now: datetime) -> None:
        prefix, by_address = await self.store.read(_enroll_keys(code, address), now=now.timestamp())
        wait, why = enroll_wait(self.enrollment, prefix=prefix, address=by_address)
        if wait:
            raise TooManyRequests(_("%(why)s; try again in %(wait)d s", why=why, wait=wait), retry_after=wait)

    async def enrollment_failed(self, code: str, address: str, *, now: datetime) -> None:
        await self.store.add(
            _enroll_keys(code, address), now=now.timestamp(), window_seconds=self.enrollment.window_seconds
        )


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _sign_in_keys(email: str, address: str) -> list[str]:
    account = _hashed(email)
    return [f"login:acct:{account}", f"login:addr:{address}", f"login:pair:{account}:{address}"]


def _enroll_keys(code: str, address: str) -> list[str]:
    prefix = tokens.normalise_enrollment_code(code)[:ENROLLMENT_PREFIX_LENGTH]
    return [f"enroll:prefix:{_hashed(prefix)}", f"enroll:addr:{address}"]


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
    await limits.check_sign_in(email, client_address, now=now)
    async with session.begin():
        user = await session.scalar(select(User).where(User.email == email))
        ok = passwords.verify_password(user.password_hash if user else None, data.password)
        if not ok or user is None or not user.active:
            await limits.sign_in_failed(email, client_address, now=now)
            raise Unauthorized(_("wrong email or password"))
        pair = await _issue_pair(session, user, settings=settings, family_id=uuid7(), now=now)
    await limits.sign_in_succeeded(email, client_address)
    return pair


async def refresh(
    session: AsyncSession, refresh_token: str, *, settings: Settings, now: datetime
) -> TokenPair:
    token_hash = tokens.hash_token(refresh_token)
    async with session.begin():
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthorized(_("the refresh token is invalid or expired"))
        # Rotate with a compare-and-set: of two requests racing with one token, exactly one wins.
        rotated = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if rotated.rowcount == 1:  # type: ignore[attr-defined]
            user = await session.get(User, row.user_id)
            if user is None or not user.active:
                raise Unauthorized(_("this account is deactivated"))
            return await _issue_pair(session, user, settings=settings, family_id=row.family_id, now=now)
        # A rotated token came back: someone holds a copy. Revoke the whole sign-in (committed
        # by leaving the block normally, before the refusal below).
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    raise Unauthorized(_("this refresh token was already used; the session has been revoked"))


async def enroll(
    session: AsyncSession,
    data: EnrollRequest,
    *,
    settings: Settings,
    limits: LoginLimits,
    client_address: str,
    now: datetime,
) -> TokenPair:
    email = normalise_email(data.email)
    problem = passwords.password_problem(data.password, email=email)
    if problem:
        raise ValidationFailed.one("password", problem)
    # Guessing codes is throttled per code prefix and per client address (auth/ratelimit.py).
    await limits.check_enrollment(data.enrollment_code, client_address, now=now)
    # Hashed with every secret still accepted: a code handed out before a rotation keeps working.
    code_hashes = [tokens.hash_enrollment_code(data.enrollment_code, secret=s) for s in settings.jwt_secrets]
    try:
        async with session.begin():
            code = await session.scalar(
                select(EnrollmentCode).where(EnrollmentCode.code_hash.in_(code_hashes))
            )
            if code is None or code.used_at or code.revoked_at or code.expires_at <= now:
                await limits.enrollment_failed(data.enrollment_code, client_address, now=now)
                raise Unauthorized(_("the enrollment code is invalid, used or expired"))
            claimed = await session.execute(
                update(EnrollmentCode)
                .where(EnrollmentCode.id == code.id, EnrollmentCode.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Unauthorized(_("the enrollment code is invalid, used or expired"))
            graduate = await session.get(Graduate, code.graduate_id, with_for_update=True)
            if graduate is None:
                raise Unauthorized(_("the enrollment code is invalid, used or expired"))
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
            pair = await _issue_pair(
                session, user, settings=settings, family_id=uuid7(), now=now, graduate_id=graduate.id
            )
            # The record that this account is this graduate's: an erasure finds every account the
            # graduate ever had by it, the ones a re-enrollment replaced too.
            await audit.record(
                session,
                actor=Principal(user_id=user.id, role="graduate", graduate_id=graduate.id),
                action="create",
                resource="account",
                graduate_id=graduate.id,
                resource_id=str(user.id),
                now=now,
            )
            return pair
    except IntegrityError as exc:
        raise Conflict(_("an account with this email already exists")) from exc


async def change_password(
    session: AsyncSession,
    principal: Principal,
    data: PasswordChange,
    *,
    settings: Settings,
    limits: LoginLimits,
    client_address: str,
    now: datetime,
) -> TokenPair:
    """Set a new password after checking the current one; every session ends (see the module
    docstring) and the caller gets a fresh pair. Wrong current passwords count against the account's
    sign-in budget (``LoginLimits``): a stolen access token buys no more guesses than the sign-in
    form. The hashing (argon2, CPU-bound and slow by design) runs outside any transaction; the write
    is a compare-and-set on the hash it verified, so of two changes racing, one wins and the other
    is told its current password is no longer right."""
    async with session.begin():
        user = await session.get(User, principal.user_id)
        if user is None or not user.active:
            raise Unauthorized(_("this account is deactivated"))
        email, verified_hash = user.email, user.password_hash
    await limits.check_sign_in(email, client_address, now=now)
    if not passwords.verify_password(verified_hash, data.current_password):
        await limits.sign_in_failed(email, client_address, now=now)
        raise WrongPassword(_("the current password is not right"))
    problem = passwords.password_problem(data.new_password, email=email)
    if problem:
        raise ValidationFailed.one("new_password", problem)
    new_hash = passwords.hash_password(data.new_password)
    async with session.begin():
        changed = await session.execute(
            update(User)
            .where(User.id == principal.user_id, User.password_hash == verified_hash, User.active)
            .values(password_hash=new_hash, token_generation=User.token_generation + 1)
            .returning(User.id)
            .execution_options(synchronize_session=False)
        )
        if changed.scalar_one_or_none() is None:
            raise WrongPassword(_("the password was changed meanwhile; sign in again"))
        await _end_sessions(session, principal.user_id, now=now)
        await audit.record(
            session,
            actor=principal,
            action="update",
            resource="password",
            graduate_id=principal.graduate_id,
            now=now,
            resource_id=str(principal.user_id),
        )
        # Read again: the pair carries the generation the update above gave the account.
        user = await session.get(User, principal.user_id, populate_existing=True)
        assert user is not None  # the update above found it, under this transaction's lock
        pair = await _issue_pair(
            session, user, settings=settings, family_id=uuid7(), now=now, graduate_id=principal.graduate_id
        )
    await limits.sign_in_succeeded(email, client_address)
    return pair


async def logout(session: AsyncSession, refresh_token: str, *, now: datetime) -> None:
    """Revoke the sign-in (family) ``refresh_token`` belongs to. Answers alike whether or not the
    token is known, spent or revoked already: signing out twice is not an error, and the answer
    tells a holder of a guessed token nothing."""
    token_hash = tokens.hash_token(refresh_token)
    async with session.begin():
        family = select(RefreshToken.family_id).where(RefreshToken.token_hash == token_hash).scalar_subquery()
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


async def logout_all(session: AsyncSession, principal: Principal, *, now: datetime) -> None:
    """Sign the caller out everywhere, this device included: every refresh-token family revoked,
    every access token refused from the next request on."""
    async with session.begin():
        await session.execute(
            update(User)
            .where(User.id == principal.user_id)
            .values(token_generation=User.token_generation + 1)
            .execution_options(synchronize_session=False)
        )
        await _end_sessions(session, principal.user_id, now=now)
        await audit.record(
            session,
            actor=principal,
            action="delete",
            resource="sessions",
            graduate_id=principal.graduate_id,
            now=now,
            resource_id=str(principal.user_id),
        )


async def end_sign_in(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    """Stop an account signing in, in the caller's transaction (a deletion request, an erasure):
    inactive, its access tokens refused from the next request on, every session ended."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(active=False, token_generation=User.token_generation + 1)
        .execution_options(synchronize_session=False)
    )
    await _end_sessions(session, user_id, now=now)


async def _end_sessions(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    """Revoke every refresh-token family of the account (ix_refresh_tokens_user_id) and drop its
    unspent stream tickets, which would otherwise open a stream within their minute. The caller
    raises ``token_generation`` in the same transaction, which ends the access tokens."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(StreamTicket).where(StreamTicket.user_id == user_id))


async def my_profile(session: AsyncSession, principal: Principal, *, unread_count: int) -> Me:
    """The caller's profile, in the caller's transaction; ``unread_count`` is the inbox's (push)."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized(_("unknown account"))
    return Me(
        user_id=user.id,
        email=user.email,
        role=user.role,  # type: ignore[arg-type]
        display_name=user.display_name,
        graduate_id=principal.graduate_id,
        unread_count=unread_count,
        locale=principal.locale,
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
    principal = Principal(
        user_id=user.id, role=user.role, graduate_id=graduate_id, token_generation=user.token_generation
    )
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
