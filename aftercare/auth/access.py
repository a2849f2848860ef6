"""Who may reach what: the one rule set every route declares itself against.

Each route handler names its rule in ``opt={"access": Access.X}``; the app-wide guard
(``auth/guards.py``) applies it. A route with no rule is refused (fail closed), and the access-matrix
test walks every route, so a new route cannot ship without one.

    rule              graduate             counselor                 supervisor
    PUBLIC            yes                  yes                       yes          (no token needed)
    SIGNED_IN         yes                  yes                       yes
    STAFF             403                  yes                       yes
    SUPERVISOR        403                  403                       yes
    GRADUATE_SELF     own id, else 404     403                       403
    GRADUATE_READ     own id, else 404     own caseload, else 404    any existing
    GRADUATE_STAFF    403                  own caseload, else 404    any existing

A graduate id that does not exist is a 404 for everyone; one outside the caller's reach is a 404
too, so the answer never reveals that the record exists.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.auth.models import User
from aftercare.auth.principal import ROLES, Principal
from aftercare.db.base import table_of
from aftercare.db.engine import read_statement
from aftercare.errors import Forbidden, NotFound, Unauthorized
from aftercare.graduates.models import Graduate


class Access(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    STAFF = "staff"
    SUPERVISOR = "supervisor"
    GRADUATE_SELF = "graduate_self"
    GRADUATE_READ = "graduate_read"
    GRADUATE_STAFF = "graduate_staff"


GRADUATE_NOT_FOUND = "graduate not found"
GRADUATE_SCOPED = (Access.GRADUATE_SELF, Access.GRADUATE_READ, Access.GRADUATE_STAFF)

_ROLES_ALLOWED: dict[Access, frozenset[str]] = {
    Access.SIGNED_IN: frozenset({"graduate", "counselor", "supervisor"}),
    Access.STAFF: frozenset({"counselor", "supervisor"}),
    Access.SUPERVISOR: frozenset({"supervisor"}),
    Access.GRADUATE_SELF: frozenset({"graduate"}),
    Access.GRADUATE_READ: frozenset({"graduate", "counselor", "supervisor"}),
    Access.GRADUATE_STAFF: frozenset({"counselor", "supervisor"}),
}


def check_role(rule: Access, principal: Principal) -> None:
    """403 for a role that may never use a route of this rule."""
    if rule is not Access.PUBLIC and principal.role not in _ROLES_ALLOWED[rule]:
        raise Forbidden(f"a {principal.role} may not do this")


def can_reach(principal: Principal, *, graduate_id: uuid.UUID, counselor_id: uuid.UUID | None) -> bool:
    """Whether ``principal`` may see the graduate: self, their counselor, or a supervisor."""
    if principal.role == "supervisor":
        return True
    if principal.role == "counselor":
        return counselor_id == principal.user_id
    return principal.graduate_id == graduate_id


_users, _graduates = table_of(User), table_of(Graduate)
# Built once: the guard runs on every request, and a statement built per call pays for its
# construction and its cache key each time. Both are one primary-key lookup of the account (plus,
# for staff on a graduate's route, one of the graduate by primary key in the same statement).
_account = select(_users.c.active, _users.c.role).where(_users.c.id == bindparam("user_id"))
_account_and_graduate = (
    select(_users.c.active, _users.c.role, _graduates.c.id, _graduates.c.counselor_id)
    .select_from(_users.outerjoin(_graduates, _graduates.c.id == bindparam("graduate_id")))
    .where(_users.c.id == bindparam("user_id"))
)


async def authorize(
    engine: AsyncEngine, token: Principal, rule: Access, graduate_id: uuid.UUID | None
) -> Principal:
    """The caller as the database says they are now, allowed by ``rule`` for ``graduate_id``; raises
    otherwise. One statement, outside any transaction, on every request:

    * the account must still be active (401 if not: deactivated staff, or a graduate whose sign-in
      was replaced by a re-enrollment after a lost phone);
    * the role is the account's current one, not the token's: a supervisor demoted to counselor
      loses supervisor rights on their next request, a counselor promoted gains them (403 for a role
      that may never do this);
    * ``graduate_id`` (when the route has one) must exist and be within reach as of now: a counselor
      reaches their caseload by the graduate's current ``counselor_id``, so a reassignment takes
      effect on the next request (404 if not, so the answer never reveals that the record exists).

    A graduate's own id is in the token and needs no query: an account is bound to one graduate when
    it enrolls and never rebound (a re-enrollment makes a new account and deactivates the old one),
    so for an active account the token's id is the database's. Roles never cross between graduate
    and staff; a token whose account did (impossible through the API) is refused as stale.
    """
    staff_route_with_graduate = token.is_staff and graduate_id is not None
    rows = await read_statement(
        engine,
        _account_and_graduate if staff_route_with_graduate else _account,
        {"user_id": token.user_id, "graduate_id": graduate_id}
        if staff_route_with_graduate
        else {"user_id": token.user_id},
    )
    row: Any = rows[0] if rows else None
    if row is None or not row.active:
        raise Unauthorized("this account is deactivated")
    principal = token
    if row.role != token.role:
        role = ROLES[row.role]
        if (role == "graduate") != (token.role == "graduate"):
            raise Unauthorized("this token no longer matches its account; sign in again")
        principal = msgspec.structs.replace(token, role=role)
    check_role(rule, principal)
    if graduate_id is None:
        return principal
    if not principal.is_staff:
        if principal.graduate_id != graduate_id:
            raise NotFound(GRADUATE_NOT_FOUND)
    elif row.id is None or not can_reach(principal, graduate_id=graduate_id, counselor_id=row.counselor_id):
        raise NotFound(GRADUATE_NOT_FOUND)
    return principal
