"""Sign-in, refresh, enrollment, sign-out, the caller's profile and password, and stream tickets."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth import service, tickets
from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.auth.schemas import (
    EnrollRequest,
    LogoutRequest,
    Me,
    PasswordChange,
    RefreshRequest,
    StreamTicket,
    TokenPair,
    TokenRequest,
)
from aftercare.auth.service import LoginLimits
from aftercare.clock import Clock
from aftercare.config import Settings
from aftercare.flows.me import my_profile
from aftercare.http import client_address


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post(
        "/token",
        operation_id="signIn",
        status_code=200,
        opt={"access": Access.PUBLIC, "problems": [401, 429, 503]},
    )
    async def sign_in(
        self,
        request: Request,
        data: TokenRequest,
        db_session: AsyncSession,
        settings: Settings,
        login_limits: LoginLimits,
        clock: Clock,
    ) -> TokenPair:
        return await service.sign_in(
            db_session,
            data,
            settings=settings,
            limits=login_limits,
            client_address=client_address(request, settings),
            now=clock.now(),
        )

    @post(
        "/refresh",
        operation_id="refreshTokens",
        status_code=200,
        opt={"access": Access.PUBLIC, "problems": [401, 503]},
    )
    async def refresh(
        self, data: RefreshRequest, db_session: AsyncSession, settings: Settings, clock: Clock
    ) -> TokenPair:
        return await service.refresh(db_session, data.refresh_token, settings=settings, now=clock.now())

    @post(
        "/enroll",
        operation_id="enroll",
        status_code=201,
        opt={"access": Access.PUBLIC, "problems": [401, 409, 429, 503]},
    )
    async def enroll(
        self,
        request: Request,
        data: EnrollRequest,
        db_session: AsyncSession,
        settings: Settings,
        login_limits: LoginLimits,
        clock: Clock,
    ) -> TokenPair:
        return await service.enroll(
            db_session,
            data,
            settings=settings,
            limits=login_limits,
            client_address=client_address(request, settings),
            now=clock.now(),
        )

    @post(
        "/logout",
        operation_id="signOut",
        status_code=204,
        opt={"access": Access.PUBLIC, "problems": [503]},
    )
    async def logout(self, data: LogoutRequest, db_session: AsyncSession, clock: Clock) -> None:
        await service.logout(db_session, data.refresh_token, now=clock.now())

    # Every session of the account ends, this one's access token too: opt "ends_sessions" tells the
    # access-matrix walk to sign its caller in again.
    @post(
        "/logout-all",
        operation_id="signOutEverywhere",
        status_code=204,
        opt={"access": Access.SIGNED_IN, "ends_sessions": True},
    )
    async def logout_all(self, db_session: AsyncSession, principal: Principal, clock: Clock) -> None:
        await service.logout_all(db_session, principal, now=clock.now())


class MeController(Controller):
    path = "/v1/me"
    tags = ["auth"]

    @get("/", operation_id="getMe", opt={"access": Access.SIGNED_IN})
    async def me(self, db_session: AsyncSession, principal: Principal) -> Me:
        return await my_profile(db_session, principal)

    @post(
        "/password",
        operation_id="changeMyPassword",
        status_code=200,
        opt={"access": Access.SIGNED_IN, "problems": [429]},
    )
    async def change_password(
        self,
        request: Request,
        data: PasswordChange,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        login_limits: LoginLimits,
        clock: Clock,
    ) -> TokenPair:
        return await service.change_password(
            db_session,
            principal,
            data,
            settings=settings,
            limits=login_limits,
            client_address=client_address(request, settings),
            now=clock.now(),
        )


class StreamTicketController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/stream-ticket", operation_id="issueStreamTicket", status_code=200, opt={"access": Access.STAFF})
    async def issue(self, db_session: AsyncSession, principal: Principal, clock: Clock) -> StreamTicket:
        return await tickets.issue_ticket(db_session, actor=principal, now=clock.now())
