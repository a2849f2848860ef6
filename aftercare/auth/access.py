"""Who may reach what: the one rule set every route declares itself against.

Each route handler names its rule in ``opt={"access": Access.X}``; the app-wide guard
(``auth/guards.py``) applies it. A route with no rule is refused (fail closed), and the access-matrix
test walks every route, so a new route cannot ship without one.

    rule              graduate             counselor                 supervisor
    PUBLIC            yes                  yes                       yes          (no token needed)
    SIGNED_IN         yes                  yes                       yes
    GRADUATE          yes (own record)     403                       403
    STAFF             403                  yes                       yes
    STAFF_SELF        403                  own staff_id, else 403    yes
    SUPERVISOR        403                  403                       yes
    GRADUATE_SELF     own id, else 404     403                       403
    GRADUATE_READ     own id, else 404     own caseload, else 404    any existing
    GRADUATE_STAFF    403                  own caseload, else 404    any existing

A graduate id that does not exist, or whose data was erased (``graduates.erased_at``), is a 404 for
everyone; one outside the caller's reach is a 404
too, so the answer never reveals that the record exists.

A counselor's caseload (``can_reach``) is the graduates assigned to them and, while a colleague is
away with them as cover (``staff_away``), that colleague's graduates too: from the period's start
until its end, and not an instant longer (``cover_of`` and ``reach_condition`` are the same rule
for a query). A staff member an open alert was sent to (an alert event ``notified`` names them: the
on-call, a named colleague; not as a cover, whose reach is the period's) may act on that alert while
it is open or acknowledged, whether or not the graduate is in their caseload: whoever is asked to
answer can.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import QueryableAttribute

from aftercare.auth.models import User
from aftercare.auth.principal import ROLES, Principal
from aftercare.db.base import table_of
from aftercare.db.engine import read_statement
from aftercare.errors import Forbidden, NotFound, Unauthorized
from aftercare.graduates.models import Graduate
from aftercare.i18n import _, locale_of
from aftercare.staff.models import StaffAway


class Access(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    GRADUATE = "graduate"
    STAFF = "staff"
    STAFF_SELF = "staff_self"
    SUPERVISOR = "supervisor"
    GRADUATE_SELF = "graduate_self"
    GRADUATE_READ = "graduate_read"
    GRADUATE_STAFF = "graduate_staff"


GRADUATE_NOT_FOUND = _("graduate not found")
GRADUATE_SCOPED = (Access.GRADUATE_SELF, Access.GRADUATE_READ, Access.GRADUATE_STAFF)

_ROLES_ALLOWED: dict[Access, frozenset[str]] = {
    Access.SIGNED_IN: frozenset({"graduate", "counselor", "supervisor"}),
    Access.GRADUATE: frozenset({"graduate"}),
    Access.STAFF: frozenset({"counselor", "supervisor"}),
    Access.STAFF_SELF: frozenset({"counselor", "supervisor"}),
    Access.SUPERVISOR: frozenset({"supervisor"}),
    Access.GRADUATE_SELF: frozenset({"graduate"}),
    Access.GRADUATE_READ: frozenset({"graduate", "counselor", "supervisor"}),
    Access.GRADUATE_STAFF: frozenset({"counselor", "supervisor"}),
}


def check_role(rule: Access, principal: Principal) -> None:
    """403 for a role that may never use a route of this rule."""
    if rule is not Access.PUBLIC and principal.role not in _ROLES_ALLOWED[rule]:
        raise Forbidden(_("a %(role)s may not do this", role=principal.role))


def check_staff_self(rule: Access, principal: Principal, staff_id: object) -> None:
    """STAFF_SELF: a counselor acts only on their own ``staff_id`` (their away periods, their e-mail
    opt-in); a supervisor on anyone's."""
    if rule is Access.STAFF_SELF and principal.role != "supervisor" and staff_id != principal.user_id:
        raise Forbidden("a counselor may do this only for themselves")


def can_reach(
    principal: Principal,
    *,
    graduate_id: uuid.UUID,
    counselor_id: uuid.UUID | None,
    cover_id: uuid.UUID | None = None,
    notified: bool = False,
) -> bool:
    """Whether ``principal`` may see the graduate: self, their counselor, the counselor's cover while
    the counselor is away (``cover_id``: who covers ``counselor_id`` now, from ``cover_of``), or a
    supervisor. ``notified``: for one alert, the caller was sent it and it is not resolved."""
    if principal.role == "supervisor":
        return True
    if principal.role == "counselor":
        return notified or (counselor_id is not None and principal.user_id in (counselor_id, cover_id))
    return principal.graduate_id == graduate_id


_away = table_of(StaffAway)
_Column = ColumnElement[Any] | QueryableAttribute[Any]


def cover_of(counselor_id: _Column, at: Any) -> ScalarSelect[Any]:
    """Who covers ``counselor_id`` at ``at`` (null if nobody: not away, or no such period), as a
    column for a query; ``can_reach``'s ``cover_id``. A staff member's periods never overlap, so at
    most one holds (``ix_staff_away_staff_id_starts_at``)."""
    return (
        select(_away.c.covering_staff_id)
        .where(_away.c.staff_id == counselor_id, _away.c.starts_at <= at, _away.c.ends_at > at)
        .limit(1)
        .scalar_subquery()
    )


def reach_condition(principal: Principal, counselor_id: _Column, at: datetime) -> ColumnElement[bool]:
    """``can_reach`` for a counselor's lists (caseload, alert feed): rows whose counselor is the
    caller, or a colleague the caller covers at ``at`` (``ix_staff_away_covering_staff_id_ends_at``)."""
    covered = select(_away.c.staff_id).where(
        _away.c.covering_staff_id == principal.user_id, _away.c.ends_at > at, _away.c.starts_at <= at
    )
    return or_(counselor_id == principal.user_id, counselor_id.in_(covered))


_users, _graduates = table_of(User), table_of(Graduate)
# Built once: the guard runs on every request, and a statement built per call pays for its
# construction and its cache key each time. Both are one primary-key lookup of the account (plus,
# for staff on a graduate's route, one of the graduate by primary key and its counselor's cover now,
# in the same statement).
_account = select(_users.c.active, _users.c.role, _users.c.token_generation).where(
    _users.c.id == bindparam("user_id")
)
# A graduate's account with their language (problems are written in it: ``http.reader_locale``).
_graduate_account = (
    select(_users.c.active, _users.c.role, _users.c.token_generation, _graduates.c.locale)
    .select_from(_users.outerjoin(_graduates, _graduates.c.id == bindparam("graduate_id")))
    .where(_users.c.id == bindparam("user_id"))
)
_account_and_graduate = (
    select(
        _users.c.active,
        _users.c.role,
        _users.c.token_generation,
        _graduates.c.id,
        _graduates.c.counselor_id,
        cover_of(_graduates.c.counselor_id, bindparam("now")).label("cover_id"),
    )
    .select_from(
        _users.outerjoin(
            _graduates, and_(_graduates.c.id == bindparam("graduate_id"), _graduates.c.erased_at.is_(None))
        )
    )
    .where(_users.c.id == bindparam("user_id"))
)


async def authorize(
    engine: AsyncEngine, token: Principal, rule: Access, graduate_id: uuid.UUID | None, *, now: datetime
) -> Principal:
    """The caller as the database says they are now, allowed by ``rule`` for ``graduate_id``; raises
    otherwise. One statement, outside any transaction, on every request:

    * the account must still be active (401 if not: deactivated staff, or a graduate whose sign-in
      was replaced by a re-enrollment after a lost phone);
    * the token must be of the account's current generation (401 if not: the password was changed,
      or the owner signed out everywhere, after it was issued);
    * the role is the account's current one, not the token's: a supervisor demoted to counselor
      loses supervisor rights on their next request, a counselor promoted gains them (403 for a role
      that may never do this);
    * ``graduate_id`` (when the route has one) must exist and be within reach as of now: a counselor
      reaches their caseload by the graduate's current ``counselor_id``, so a reassignment takes
      effect on the next request (404 if not, so the answer never reveals that the record exists).

    A graduate's own id is in the token and needs no check: an account is bound to one graduate when
    it enrolls and never rebound (a re-enrollment makes a new account and deactivates the old one),
    so for an active account the token's id is the database's. The same statement reads that
    graduate's ``locale`` as stored now: their problems are written in it. Roles never cross between
    graduate and staff; a token whose account did (impossible through the API) is refused as stale.
    """
    staff_route_with_graduate = token.is_staff and graduate_id is not None
    if staff_route_with_graduate:
        statement, values = (
            _account_and_graduate,
            {"user_id": token.user_id, "graduate_id": graduate_id, "now": now},
        )
    elif token.is_staff:
        statement, values = _account, {"user_id": token.user_id}
    else:
        statement, values = _graduate_account, {"user_id": token.user_id, "graduate_id": token.graduate_id}
    rows = await read_statement(engine, statement, values)
    row: Any = rows[0] if rows else None
    if row is None or not row.active:
        raise Unauthorized(_("this account is deactivated"))
    if row.token_generation != token.token_generation:
        raise Unauthorized(
            _("this sign-in has ended (password changed or signed out everywhere); sign in again")
        )
    principal = token
    if not token.is_staff and row.locale is not None:
        principal = msgspec.structs.replace(token, locale=locale_of(row.locale))
    if row.role != token.role:
        role = ROLES[row.role]
        if (role == "graduate") != (token.role == "graduate"):
            raise Unauthorized(_("this token no longer matches its account; sign in again"))
        principal = msgspec.structs.replace(principal, role=role)
    check_role(rule, principal)
    if graduate_id is None:
        return principal
    if not principal.is_staff:
        if principal.graduate_id != graduate_id:
            raise NotFound(GRADUATE_NOT_FOUND)
    elif row.id is None or not can_reach(
        principal, graduate_id=graduate_id, counselor_id=row.counselor_id, cover_id=row.cover_id
    ):
        raise NotFound(GRADUATE_NOT_FOUND)
    return principal
