"""The app-wide guard: authenticate the bearer token, then apply the route's access rule."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from aftercare.auth.access import GRADUATE_SCOPED, Access, authorize, check_staff_self
from aftercare.auth.principal import Principal
from aftercare.auth.tickets import redeem_ticket
from aftercare.auth.tokens import read_access_token
from aftercare.errors import Forbidden, Unauthorized
from aftercare.i18n import _


def route_access(handler: BaseRouteHandler) -> Access | None:
    """The handler's declared rule. Handlers Litestar itself provides (automatic OPTIONS answers,
    the OpenAPI document) are public; every handler of ours must declare one."""
    rule = handler.opt.get("access")
    if rule is not None:
        return Access(rule)
    if getattr(handler.fn, "__module__", "").startswith("litestar."):
        return Access.PUBLIC
    return None


async def enforce_access(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    rule = route_access(handler)
    if rule is None:
        raise Forbidden("this route declares no access rule")  # fail closed
    if rule is Access.PUBLIC:
        return
    state = connection.app.state
    if handler.opt.get("ticket") and "authorization" not in connection.headers:
        principal = await redeem_stream_ticket(connection)
    else:
        principal = authenticate(connection, secrets=state.settings.jwt_secrets, now=state.clock.now())
    graduate_id = None
    if rule in GRADUATE_SCOPED:
        graduate_id = connection.path_params.get("graduate_id")
        if not isinstance(graduate_id, uuid.UUID):
            raise Forbidden("route has a graduate rule but no graduate_id")
    # The token says who is calling; role, activity and reach come from the database, now.
    principal = await authorize(state.engine, principal, rule, graduate_id, now=state.clock.now())
    check_staff_self(rule, principal, connection.path_params.get("staff_id"))
    connection.scope["user"] = principal


def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], *, secrets: tuple[str, ...], now: datetime
) -> Principal:
    """The principal of the bearer token, verified with the current secret or, after a rotation, a
    previous one (``AFTERCARE_JWT_PREVIOUS_SECRETS``)."""
    header = connection.headers.get("authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(_("send Authorization: Bearer <access token>"))
    principal = _verified.read(token.strip(), secrets=secrets, now=now)
    if principal is None:
        raise Unauthorized(_("the access token is invalid or expired"))
    return principal


class _VerifiedTokens:
    """Access tokens already verified, with what they said. A client sends the same token on every
    request until it expires, and verifying it (PyJWT: parse, HMAC, claims) is about a twentieth of a
    whole plan read. Only a byte-identical token under the same secret is found here, so nothing is
    trusted that was not verified; expiry is checked on every request, as ``read_access_token`` does.
    Keyed by the secrets it was verified against, so dropping a previous secret forgets what it let in.
    Invalid tokens are never kept. Bounded: the oldest entry goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: dict[tuple[tuple[str, ...], str], Principal] = {}

    def read(self, token: str, *, secrets: tuple[str, ...], now: datetime) -> Principal | None:
        key = (secrets, token)
        known = self._known.get(key)
        if known is not None:
            if known.expires_at is not None and known.expires_at > now:
                return known
            del self._known[key]
        principal = None
        for secret in secrets:
            principal = read_access_token(token, secret=secret, now=now)
            if principal is not None:
                break
        if principal is not None and principal.expires_at is not None:
            if len(self._known) >= self._size:
                del self._known[next(iter(self._known))]
            self._known[key] = principal
        return principal


_verified = _VerifiedTokens(size=4096)


async def redeem_stream_ticket(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """``?ticket=`` from ``POST /v1/auth/stream-ticket``: only on routes whose opt allows it (the
    stream, for EventSource, which cannot send headers); spent on first use."""
    ticket = connection.query_params.get("ticket")
    if not ticket:
        raise Unauthorized("send Authorization: Bearer <access token> or ?ticket=<stream ticket>")
    state = connection.app.state
    async with state.session_factory() as session:
        principal = await redeem_ticket(
            session,
            ticket,
            now=state.clock.now(),
            token_lifetime=timedelta(minutes=state.settings.access_token_minutes),
        )
    if principal is None:
        raise Unauthorized("the stream ticket is invalid, spent or expired")
    return principal


def provide_principal(request: Any) -> Principal:
    """Dependency: the principal the guard authenticated."""
    principal: Principal = request.scope["user"]
    return principal
