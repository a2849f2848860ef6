"""Authorization as a generated matrix: every route of the app x every kind of caller.

The routes come from the app itself, so a route added without an access rule, or with a rule this
table does not know, fails here. Expected answers follow ``aftercare/auth/access.py``: 401 without a
token, 403 for a role that may never do this, 404 for a graduate outside the caller's reach.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar

from aftercare.auth.access import GRADUATE_NOT_FOUND, Access
from aftercare.auth.guards import route_access
from aftercare.push import service as push
from tests.conftest import Account, Program
from tests.hostile.conftest import browser_keys

CALLERS = ("anonymous", "graduate_self", "graduate_other", "counselor_own", "counselor_other", "supervisor")

# What the guard answers, per rule and caller; None: let through to the handler.
EXPECTED: dict[Access, dict[str, int | None]] = {
    Access.PUBLIC: dict.fromkeys(CALLERS),
    Access.SIGNED_IN: {"anonymous": 401, **dict.fromkeys(CALLERS[1:])},
    # A graduate's own record, named by their token (their export, their deletion request).
    Access.GRADUATE: {
        "anonymous": 401,
        "graduate_self": None,
        "graduate_other": None,
        "counselor_own": 403,
        "counselor_other": 403,
        "supervisor": 403,
    },
    Access.STAFF: {
        "anonymous": 401,
        "graduate_self": 403,
        "graduate_other": 403,
        "counselor_own": None,
        "counselor_other": None,
        "supervisor": None,
    },
    # The matrix names no staff member in the path (a random id): every counselor is someone else.
    Access.STAFF_SELF: {
        "anonymous": 401,
        "graduate_self": 403,
        "graduate_other": 403,
        "counselor_own": 403,
        "counselor_other": 403,
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


# Query parameters a route is also called with, so the guard is seen to answer alike with them (and
# the handler to accept them: never a 401, 403 or 404 the guard would give).
QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/v1/graduates", "GET"): [
        {"sort": "name", "risk_level": ["high", "critical"], "status": "active"},
        {"sort": "last_checkin", "has_open_alerts": "false", "search": "Gr"},
        {"sort": "open_alerts", "has_open_alerts": "true", "status": ["active", "discharged"]},
    ],
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


# Rules pinned here, so a route cannot quietly widen: a report over every counselor's alerts is for
# supervisors only (issue 17: response times).
PINNED: dict[tuple[str, str], Access] = {
    ("/v1/program/response-times", "GET"): Access.SUPERVISOR,
    ("/v1/alerts", "GET"): Access.STAFF,
    # Issue 22: the graduate records their own doses (staff never write them); progress and the
    # dose list are the graduate's and their staff's to read.
    ("/v1/graduates/{graduate_id:uuid}/doses", "POST"): Access.GRADUATE_SELF,
    ("/v1/graduates/{graduate_id:uuid}/doses", "GET"): Access.GRADUATE_READ,
    ("/v1/graduates/{graduate_id:uuid}/progress", "GET"): Access.GRADUATE_READ,
    # Data rights (issue 22): only the graduate exports or asks to erase their own data; only a
    # supervisor lists the requests and erases.
    ("/v1/me/export", "GET"): Access.GRADUATE,
    ("/v1/me/deletion-request", "POST"): Access.GRADUATE,
    ("/v1/deletion-requests", "GET"): Access.SUPERVISOR,
    ("/v1/graduates/{graduate_id:uuid}/erase", "POST"): Access.SUPERVISOR,
}


def test_pinned_routes_keep_their_rule(app: Litestar) -> None:
    rules = {(path, method): route_access(handler) for path, method, handler in our_routes(app)}
    for route, rule in PINNED.items():
        assert rules.get(route) == rule, route


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


async def walk_matrix(
    app: Litestar, program: Program, target: Account, callers: dict[str, tuple[Account | None, str]]
) -> int:
    """Every route as every caller; ``callers`` maps a label to the account whose token is sent and
    the column of ``EXPECTED`` it must be answered by. How many requests were checked. A route that
    ends every session of its caller (``opt["ends_sessions"]``: signing out everywhere) is walked
    like any other, and a caller it let through signs in again for the routes after it."""
    assert target.graduate_id is not None
    checked = 0
    for template, method, handler in our_routes(app):
        rule = route_access(handler)
        assert rule is not None
        if handler.opt.get("streams"):
            continue  # covered by the stream's own tests: an allowed call never ends
        path = concrete_path(template, target.graduate_id)
        runs = [(c, p) for c in callers.items() for p in [{}, *QUERIES.get((template, method), [])]]
        for (caller, (account, column)), params in runs:
            headers = account.headers if account else {}
            kwargs: dict[str, Any] = {"headers": headers, "params": params}
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = await program.client.request(method, path, **kwargs)
            expected = EXPECTED[rule][column]
            label = f"{method} {template} {params} as {caller} (answered as {column}): {response.status_code} {response.text[:200]}"
            if expected is None:
                assert response.status_code not in (401, 403), label
                # A handler may answer 404 for its own resource (no plan yet); never the guard's.
                assert not (response.status_code == 404 and _refused_graduate(response)), label
            else:
                assert response.status_code == expected, label
                if expected == 404:
                    assert _refused_graduate(response), label
                assert response.headers["content-type"].startswith("application/problem+json"), label
            if handler.opt.get("ends_sessions") and account is not None and response.is_success:
                assert (await program.client.get("/v1/me", headers=account.headers)).status_code == 401
                account.token = (await program.sign_in(account.email))["access_token"]
            checked += 1
    return checked


async def test_access_matrix(app: Litestar, program: Program, cast: dict[str, Any]) -> None:
    callers = {caller: (cast.get(caller), caller) for caller in CALLERS}
    checked = await walk_matrix(app, program, cast["graduate_self"], callers)
    assert checked >= 12 * len(CALLERS) - len(CALLERS)


# Routes of one alert. Their rule (STAFF) lets every staff member past the guard; the alert's reach is
# the handler's to check: its graduate's counselor and supervisors, else 404 as for no alert at all.
ALERT_EXPECTED: dict[str, int | None] = {
    "anonymous": 401,
    "graduate_self": 403,
    "graduate_other": 403,
    "counselor_own": None,
    "counselor_other": 404,
    "supervisor": None,
}
# A valid body for each alert route that takes one, so the reach is what is tested, not the body.
ALERT_BODIES: dict[str, Any] = {
    "resolve": lambda: {"note": "checked in by phone"},
    "outreach": lambda: {"client_id": str(uuid.uuid4()), "method": "call", "outcome": "reached"},
}


async def test_alert_routes_by_owner(app: Litestar, program: Program, cast: dict[str, Any]) -> None:
    """Every route under ``/v1/alerts/{alert_id}`` against a real alert of ``graduate_self``
    (whose counselor is ``counselor_own``), by every kind of caller."""
    target: Account = cast["graduate_self"]
    opened = await program.client.post(
        f"/v1/graduates/{target.graduate_id}/checkins",
        headers=target.headers,
        json={
            "client_id": str(uuid.uuid4()),
            "local_date": "2026-11-24",
            "mood": 3,
            "craving": 2,
            "stress": 3,
            "used": True,
            "safety_concern": False,
        },
    )
    assert opened.status_code == 201, opened.text
    feed = await program.client.get(
        "/v1/alerts", headers=cast["counselor_own"].headers, params={"graduate_id": str(target.graduate_id)}
    )
    (alert,) = feed.json()["items"]
    routes = [(t, m, h) for t, m, h in our_routes(app) if "{alert_id:uuid}" in t]
    assert {(t.rsplit("/", 1)[-1], m) for t, m, _ in routes} >= {
        ("{alert_id:uuid}", "GET"),
        ("acknowledge", "POST"),
        ("resolve", "POST"),
        ("outreach", "POST"),
    }
    for template, method, handler in routes:
        assert route_access(handler) is Access.STAFF, f"{method} {template}"
        path = template.replace("{alert_id:uuid}", alert["id"])
        for caller in CALLERS:
            account: Account | None = cast.get(caller)
            kwargs: dict[str, Any] = {"headers": account.headers if account else {}}
            if method == "POST":
                make_body = ALERT_BODIES.get(template.rsplit("/", 1)[-1])
                kwargs["json"] = make_body() if make_body else {}
            response = await program.client.request(method, path, **kwargs)
            label = f"{method} {template} as {caller}: {response.status_code} {response.text[:200]}"
            expected = ALERT_EXPECTED[caller]
            if expected is None:
                # Allowed through: 200, 201, or a 409 for resolving what another caller resolved.
                assert response.status_code in (200, 201, 409), label
            else:
                assert response.status_code == expected, label
                assert response.headers["content-type"].startswith("application/problem+json"), label
                if expected == 404:
                    assert response.json()["detail"] == "alert not found", label


async def test_role_changed_mid_token(app: Litestar, program: Program, cast: dict[str, Any]) -> None:
    """Tokens issued before a change of role are answered by the role the account has now, on every
    route: a demoted supervisor as a counselor outside the graduate's caseload (the issue's finding:
    they kept listing staff, reading every graduate and creating supervisors), a promoted counselor
    as a supervisor."""
    supervisor: Account = cast["supervisor"]
    demoted = await program.staff(supervisor, role="supervisor")
    promoted = await program.staff(supervisor, role="counselor")
    for account, role in ((demoted, "counselor"), (promoted, "supervisor")):
        response = await program.client.patch(
            f"/v1/staff/{account.user_id}", headers=supervisor.headers, json={"role": role}
        )
        assert response.status_code == 200 and response.json()["role"] == role, response.text
    callers = {
        "demoted supervisor": (demoted, "counselor_other"),
        "promoted counselor": (promoted, "supervisor"),
    }
    await walk_matrix(app, program, cast["graduate_self"], callers)
    # The finding's own three steps, with the old token:
    assert (await program.client.get("/v1/staff", headers=demoted.headers)).status_code == 403
    listed = await program.client.get("/v1/graduates", headers=demoted.headers)
    assert listed.status_code == 200 and listed.json()["items"] == []
    made = await program.client.post(
        "/v1/staff",
        headers=demoted.headers,
        json={
            "email": "x@example.org",
            "password": "correct-horse-battery",
            "display_name": "X",
            "role": "supervisor",
        },
    )
    assert made.status_code == 403, made.text


async def test_reassigned_mid_token(app: Litestar, program: Program, cast: dict[str, Any]) -> None:
    """Tokens issued before a reassignment: on every route the former counselor is answered as a
    counselor outside the caseload and the new one as the graduate's own counselor."""
    supervisor: Account = cast["supervisor"]
    former: Account = cast["counselor_own"]
    new = await program.staff(supervisor)
    target: Account = cast["graduate_self"]
    response = await program.client.patch(
        f"/v1/graduates/{target.graduate_id}",
        headers=supervisor.headers,
        json={"counselor_id": str(new.user_id)},
    )
    assert response.status_code == 200, response.text
    callers = {"former counselor": (former, "counselor_other"), "new counselor": (new, "counselor_own")}
    await walk_matrix(app, program, target, callers)


async def test_the_caseload_stays_within_reach_whatever_the_query(
    program: Program, cast: dict[str, Any]
) -> None:
    """Sorting, filtering or searching never widens a counselor's caseload past their own graduates."""
    own, other = cast["graduate_self"].graduate_id, cast["graduate_other"].graduate_id
    queries: list[dict[str, Any]] = [{}, *QUERIES[("/v1/graduates", "GET")], {"search": "Grad"}]
    for query in queries:
        for sort in ("risk", "last_checkin", "open_alerts", "name"):
            params = {**query, "sort": sort, "limit": 200}
            seen = {
                caller: {
                    item["id"]
                    for item in (
                        await program.client.get("/v1/graduates", headers=cast[caller].headers, params=params)
                    ).json()["items"]
                }
                for caller in ("counselor_own", "counselor_other")
            }
            assert str(other) not in seen["counselor_own"] and str(own) not in seen["counselor_other"], params


async def test_deactivated_staff_token_stops_at_once(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    assert (await program.client.get("/v1/graduates", headers=counselor.headers)).status_code == 200
    response = await program.client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"active": False}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await program.client.get("/v1/graduates", headers=counselor.headers)).status_code == 401


async def test_alert_reach_follows_role_and_caseload_mid_token(
    program: Program, cast: dict[str, Any]
) -> None:
    """The alert routes name an alert, not a graduate: their reach is the alert's graduate's
    caseload as of now. Old tokens of a reassigned-away counselor and of a demoted supervisor no
    longer see or act on the alert; the new counselor's old token does."""
    supervisor: Account = cast["supervisor"]
    target: Account = cast["graduate_self"]
    helped = await program.client.post(
        f"/v1/graduates/{target.graduate_id}/help",
        headers=target.headers,
        json={"client_id": str(uuid.uuid4())},
    )
    assert helped.status_code == 201, helped.text
    alert_id = next(
        a["id"]
        for a in (await program.client.get("/v1/alerts", headers=supervisor.headers)).json()["items"]
        if a["graduate_id"] == str(target.graduate_id)
    )
    former: Account = cast["counselor_own"]
    new = await program.staff(supervisor)
    demoted = await program.staff(supervisor, role="supervisor")

    def listed(response: Any) -> bool:
        return any(a["id"] == alert_id for a in response.json()["items"])

    assert listed(await program.client.get("/v1/alerts", headers=former.headers))
    assert listed(await program.client.get("/v1/alerts", headers=demoted.headers))
    assert (
        await program.client.patch(
            f"/v1/graduates/{target.graduate_id}",
            headers=supervisor.headers,
            json={"counselor_id": str(new.user_id)},
        )
    ).status_code == 200
    assert (
        await program.client.patch(
            f"/v1/staff/{demoted.user_id}", headers=supervisor.headers, json={"role": "counselor"}
        )
    ).status_code == 200
    for account in (former, demoted):
        assert not listed(await program.client.get("/v1/alerts", headers=account.headers))
        for action, body in (("acknowledge", None), ("resolve", {"note": "x"})):
            response = await program.client.post(
                f"/v1/alerts/{alert_id}/{action}", headers=account.headers, json=body
            )
            assert response.status_code == 404, response.text
    assert listed(await program.client.get("/v1/alerts", headers=new.headers))
    acknowledged = await program.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=new.headers)
    assert acknowledged.status_code == 200, acknowledged.text


def test_the_audit_log_is_for_supervisors_only(app: Litestar) -> None:
    """GET /v1/audit joins the matrix above through its rule; pinned here so it cannot widen quietly."""
    rules = {(path, method): route_access(handler) for path, method, handler in our_routes(app)}
    assert rules[("/v1/audit", "GET")] is Access.SUPERVISOR


async def test_own_notifications_and_devices_by_owner(
    app: Litestar, program: Program, cast: dict[str, Any]
) -> None:
    """The caller's inbox and devices (rule SIGNED_IN, so every signed-in caller gets past the guard):
    marking ``graduate_self``'s notification read is theirs alone, anyone else gets 404 as for no
    notification at all; marking all read and listing devices reach only the caller's own rows."""
    target: Account = cast["graduate_self"]
    now = program.clock.now()
    async with app.state.session_factory() as session, session.begin():
        [notification_id] = await push.enqueue_notifications(
            session,
            [
                push.NotificationSpec(
                    user_id=target.user_id,
                    kind="checkin_prompt",
                    title="Daily check-in",
                    body="How was today?",
                    url=None,
                    tag=None,
                    ref_id=None,
                    urgency="normal",
                    expires_at=now + timedelta(hours=1),
                    topic=None,
                )
            ],
            now=now,
        )
    device = await program.client.post(
        "/v1/push/subscriptions",
        headers=target.headers,
        json={"endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}", "keys": browser_keys()},
    )
    assert device.status_code == 201, device.text
    path = f"/v1/me/notifications/{notification_id}/read"
    for caller in CALLERS:
        if caller == "graduate_self":
            continue
        account: Account | None = cast.get(caller)
        headers = account.headers if account else {}
        response = await program.client.post(path, headers=headers)
        label = f"POST {path} as {caller}: {response.status_code} {response.text[:200]}"
        assert response.status_code == (401 if account is None else 404), label
        assert response.headers["content-type"].startswith("application/problem+json"), label
        if account is not None:
            assert response.json()["detail"] == "notification not found", label
            marked = await program.client.post(
                "/v1/me/notifications/read", headers=headers, json={"before": "2100-01-01T00:00:00Z"}
            )
            assert marked.status_code == 200, marked.text
            devices = await program.client.get("/v1/push/subscriptions", headers=headers)
            assert devices.status_code == 200 and devices.json()["items"] == [], devices.text
    inbox = await program.client.get(
        "/v1/me/notifications", headers=target.headers, params={"unread": "true"}
    )
    assert [item["id"] for item in inbox.json()["items"]] == [str(notification_id)]  # nobody else read it
    mine = await program.client.post(path, headers=target.headers)
    assert mine.status_code == 200 and mine.json()["read_at"] is not None, mine.text
    devices = await program.client.get("/v1/push/subscriptions", headers=target.headers)
    assert [d["id"] for d in devices.json()["items"]] == [device.json()["id"]], devices.text
