"""Authorization as a generated matrix: every route of the app x every kind of caller.

The routes come from the app itself, so a route added without an access rule, or with a rule this
table does not know, fails here. Expected answers follow ``aftercare/auth/access.py``: 401 without a
token, 403 for a role that may never do this, 404 for a graduate outside the caller's reach.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar import Litestar

from aftercare.auth.access import GRADUATE_NOT_FOUND, Access
from aftercare.auth.guards import route_access
from tests.conftest import Account, Program

CALLERS = ("anonymous", "graduate_self", "graduate_other", "counselor_own", "counselor_other", "supervisor")

# What the guard answers, per rule and caller; None: let through to the handler.
EXPECTED: dict[Access, dict[str, int | None]] = {
    Access.PUBLIC: dict.fromkeys(CALLERS),
    Access.SIGNED_IN: {"anonymous": 401, **dict.fromkeys(CALLERS[1:])},
    Access.STAFF: {
        "anonymous": 401,
        "graduate_self": 403,
        "graduate_other": 403,
        "counselor_own": None,
        "counselor_other": None,
        "supervisor": None,
    },
    Access.SUPERVISOR: {
        "anonymous": 401,
        "graduate_self": 403,
        "graduate_other": 403,
        "counselor_own": 403,
        "counselor_other": 403,
        "supervisor": None,
    },
    Access.GRADUATE_SELF: {
        "anonymous": 401,
        "graduate_self": None,
        "graduate_other": 404,
        "counselor_own": 403,
        "counselor_other": 403,
        "supervisor": 403,
    },
    Access.GRADUATE_READ: {
        "anonymous": 401,
        "graduate_self": None,
        "graduate_other": 404,
        "counselor_own": None,
        "counselor_other": 404,
        "supervisor": None,
    },
    Access.GRADUATE_STAFF: {
        "anonymous": 401,
        "graduate_self": 403,
        "graduate_other": 403,
        "counselor_own": None,
        "counselor_other": 404,
        "supervisor": None,
    },
}


def our_routes(app: Litestar) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if getattr(handler.fn, "__module__", "").startswith("litestar."):
                continue
            for method in sorted(getattr(handler, "http_methods", ())):
                found.append((route.path, method, handler))
    return found


def test_every_route_declares_a_known_rule(app: Litestar) -> None:
    routes = our_routes(app)
    assert len(routes) >= 12
    for path, method, handler in routes:
        rule = route_access(handler)
        assert rule is not None, f"{method} {path} has no access rule"
        assert rule in EXPECTED, f"{method} {path}: rule {rule} missing from the matrix"


def concrete_path(template: str, graduate_id: uuid.UUID) -> str:
    def fill(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        if name == "graduate_id":
            return str(graduate_id)
        return "1" if kind == "int" else str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", fill, template)


def _refused_graduate(response: Any) -> bool:
    return bool(response.json().get("detail") == GRADUATE_NOT_FOUND)


@pytest.fixture
async def cast(program: Program) -> dict[str, Any]:
    supervisor = await program.supervisor()
    own = await program.staff(supervisor)
    other = await program.staff(supervisor)
    graduate = await program.graduate(own)
    other_graduate = await program.graduate(other)
    return {
        "supervisor": supervisor,
        "counselor_own": own,
        "counselor_other": other,
        "graduate_self": graduate,
        "graduate_other": other_graduate,
    }


async def test_access_matrix(app: Litestar, program: Program, cast: dict[str, Any]) -> None:
    target: Account = cast["graduate_self"]
    assert target.graduate_id is not None
    checked = 0
    for template, method, handler in our_routes(app):
        rule = route_access(handler)
        assert rule is not None
        if handler.opt.get("streams"):
            continue  # covered by the stream's own tests: an allowed call never ends
        path = concrete_path(template, target.graduate_id)
        for caller in CALLERS:
            account: Account | None = cast.get(caller)
            headers = account.headers if account else {}
            kwargs: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = await program.client.request(method, path, **kwargs)
            expected = EXPECTED[rule][caller]
            label = f"{method} {template} as {caller}: {response.status_code} {response.text[:200]}"
            if expected is None:
                assert response.status_code not in (401, 403), label
                # A handler may answer 404 for its own resource (no plan yet); never the guard's.
                assert not (response.status_code == 404 and _refused_graduate(response)), label
            else:
                assert response.status_code == expected, label
                if expected == 404:
                    assert _refused_graduate(response), label
                assert response.headers["content-type"].startswith("application/problem+json"), label
            checked += 1
    assert checked >= 12 * len(CALLERS) - len(CALLERS)


async def test_deactivated_staff_token_stops_at_once(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    assert (await program.client.get("/v1/graduates", headers=counselor.headers)).status_code == 200
    response = await program.client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"active": False}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await program.client.get("/v1/graduates", headers=counselor.headers)).status_code == 401


def test_the_audit_log_is_for_supervisors_only(app: Litestar) -> None:
    """GET /v1/audit joins the matrix above through its rule; pinned here so it cannot widen quietly."""
    rules = {(path, method): route_access(handler) for path, method, handler in our_routes(app)}
    assert rules[("/v1/audit", "GET")] is Access.SUPERVISOR
