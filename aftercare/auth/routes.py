"""Sign-in, refresh, enrollment, the caller's profile and stream tickets."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth import service, tickets
from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.auth.schemas import EnrollRequest, Me, RefreshRequest, StreamTicket, TokenPair, TokenRequest
from aftercare.auth.service import LoginLimits
from aftercare.clock import Clock
from aftercare.config import Settings
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


class MeController(Controller):
    path = "/v1/me"
    tags = ["auth"]

    @get("/", operation_id="getMe", opt={"access": Access.SIGNED_IN})
    async def me(self, db_session: AsyncSession, principal: Principal) -> Me:
        return await service.my_profile(db_session, principal)


class StreamTicketController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/stream-ticket", operation_id="issueStreamTicket", status_code=200, opt={"access": Access.STAFF})
    async def issue(self, db_session: AsyncSession, principal: Principal, clock: Clock) -> StreamTicket:
        return await tickets.issue_ticket(db_session, actor=principal, now=clock.now())
