"""The app-wide guard: authenticate the bearer token, then apply the route's access rule."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select

from aftercare.auth.access import GRADUATE_SCOPED, Access, check_role, reach_graduate
from aftercare.auth.models import User
from aftercare.auth.tokens import Principal, read_access_token
from aftercare.errors import Forbidden, Unauthorized


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
    principal = authenticate(connection, secret=state.settings.jwt_secret, now=state.clock.now())
    check_role(rule, principal)
    needs_graduate = rule in GRADUATE_SCOPED
    if principal.is_staff or needs_graduate:
        async with state.session_factory() as session:
            if principal.is_staff:
                active = await session.scalar(select(User.active).where(User.id == principal.user_id))
                if not active:
                    raise Unauthorized("this account is deactivated")
            if needs_graduate:
                graduate_id = connection.path_params.get("graduate_id")
                if not isinstance(graduate_id, uuid.UUID):
                    raise Forbidden("route has a graduate rule but no graduate_id")
                await reach_graduate(session, principal, graduate_id)
    connection.scope["user"] = principal


def authenticate(connection: ASGIConnection[Any, Any, Any, Any], *, secret: str, now: Any) -> Principal:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <access token>")
    principal = read_access_token(token.strip(), secret=secret, now=now)
    if principal is None:
        raise Unauthorized("the access token is invalid or expired")
    return principal


def provide_principal(request: Any) -> Principal:
    """Dependency: the principal the guard authenticated."""
    principal: Principal = request.scope["user"]
    return principal
