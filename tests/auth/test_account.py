"""The account's lifecycle through the real app, on both engines: changing the password ends every
other session (refresh tokens and access tokens alike) and hands the caller a fresh pair; signing
out ends one sign-in; signing out everywhere ends them all; one password policy wherever a password
is set (a change, enrollment, staff creation, the CLI's first supervisor)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from aftercare.audit.models import AuditEvent
from aftercare.auth import passwords
from aftercare.config import Settings
from aftercare.errors import ValidationFailed
from aftercare.staff.service import create_first_user
from tests.conftest import PASSWORD, Program, unique_email

NEW_PASSWORD = "a lantern by the back door"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refresh(program: Program, refresh_token: str) -> Any:
    return await program.client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def _me(program: Program, access_token: str) -> int:
    return (await program.client.get("/v1/me", headers=_bearer(access_token))).status_code


async def _change(program: Program, access_token: str, current: str, new: str) -> Any:
    return await program.client.post(
        "/v1/me/password",
        headers=_bearer(access_token),
        json={"current_password": current, "new_password": new},
    )


async def _sign_in_status(program: Program, email: str, password: str) -> int:
    response = await program.client.post("/v1/auth/token", json={"email": email, "password": password})
    return response.status_code


@pytest.mark.parametrize("role", ["graduate", "counselor"])
async def test_password_change_ends_every_other_session(program: Program, role: str) -> None:
    """Two devices signed in; one changes the password. The other device's refresh token and access
    token stop at once (401), and so do the changing device's old ones: it carries on with the fresh
    pair the change answers with. The new password signs in, the old one does not."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    account = counselor if role == "counselor" else await program.graduate(counselor)
    phone = await program.sign_in(account.email)
    tablet = await program.sign_in(account.email)

    changed = await _change(program, phone["access_token"], PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert (fresh["user_id"], fresh["role"], fresh["token_type"]) == (str(account.user_id), role, "bearer")
    if role == "graduate":
        assert fresh["graduate_id"] == str(account.graduate_id)

    for old in (tablet, phone):
        assert (await _refresh(program, old["refresh_token"])).status_code == 401
        assert await _me(program, old["access_token"]) == 401  # not at expiry: now
    assert await _me(program, account.token) == 401  # the enrollment's or staff sign-in's session
    assert await _me(program, fresh["access_token"]) == 200
    rotated = await _refresh(program, fresh["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert await _me(program, rotated.json()["access_token"]) == 200

    assert await _sign_in_status(program, account.email, PASSWORD) == 401
    assert await _sign_in_status(program, account.email, NEW_PASSWORD) == 200
    async with program.app.state.session_factory() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEvent.resource == "password", AuditEvent.resource_id == str(account.user_id)
            )
        )
    assert audited == 1


def _too_long() -> str:
    return "long passphrase " * 8 + "x"  # 129 characters


@pytest.mark.parametrize(
    ("why", "new_password"),
    [
        ("too short", "short-one"),
        ("too long", _too_long()),
        ("common", "qwertyuiop"),
        ("common, any case", "QwertyUiop"),
        ("common, from the program's additions", "onedayatatime"),
        ("the email itself", "{email}"),
        ("the email, other case", "{EMAIL}"),
        ("containing the name part", "my-{local}-2026"),
        ("too few different characters", "abababababab"),
    ],
)
async def test_a_weak_new_password_is_a_422_naming_new_password(
    program: Program, why: str, new_password: str
) -> None:
    """Refused before anything is written: the old password still signs in and the session that
    asked is untouched (its refresh token still rotates)."""
    supervisor = await program.supervisor()
    session = await program.sign_in(supervisor.email)
    local = supervisor.email.partition("@")[0]
    candidate = new_password.format(email=supervisor.email, EMAIL=supervisor.email.upper(), local=local)
    response = await _change(program, session["access_token"], PASSWORD, candidate)
    assert response.status_code == 422, f"{why}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "/problems/validation"
    assert [e["field"] for e in body["errors"]] == ["new_password"], why
    assert supervisor.email not in response.text and local not in response.text  # no echo of the email
    assert await _me(program, session["access_token"]) == 200
    assert (await _refresh(program, session["refresh_token"])).status_code == 200
    assert await _sign_in_status(program, supervisor.email, PASSWORD) == 200


async def test_a_change_body_must_name_both_passwords(program: Program) -> None:
    supervisor = await program.supervisor()
    response = await program.client.post(
        "/v1/me/password", headers=supervisor.headers, json={"new_password": NEW_PASSWORD}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["current_password"]
    anonymous = await program.client.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert anonymous.status_code == 401


async def test_the_policy_holds_wherever_a_password_is_set(program: Program) -> None:
    """Enrollment and staff creation (API and the CLI's service) refuse what a change refuses,
    naming their own field ``password``."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    created = await program.client.post(
        "/v1/graduates", headers=counselor.headers, json={"display_name": "G", "timezone": "UTC"}
    )
    email = unique_email("enrolling")
    enrolled = await program.client.post(
        "/v1/auth/enroll",
        json={
            "enrollment_code": created.json()["enrollment_code"],
            "email": email,
            "password": "iloveyou123",
        },
    )
    assert enrolled.status_code == 422, enrolled.text
    assert [e["field"] for e in enrolled.json()["errors"]] == ["password"]

    staff_email = unique_email("newstaff")
    made = await program.client.post(
        "/v1/staff",
        headers=supervisor.headers,
        json={
            "email": staff_email,
            "password": staff_email.upper(),
            "display_name": "N",
            "role": "counselor",
        },
    )
    assert made.status_code == 422, made.text
    assert [e["field"] for e in made.json()["errors"]] == ["password"]

    async with program.app.state.session_factory() as session:
        with pytest.raises(ValidationFailed) as refused:
            await create_first_user(
                session,
                email=unique_email("cli"),
                password="password123",
                role="supervisor",
                display_name="CLI",
                now=program.clock.now(),
            )
    assert [e.field for e in refused.value.errors] == ["password"]


def test_the_bundled_list_is_shipped_lower_case_and_within_the_length_rule() -> None:
    common = passwords.common_passwords()
    assert len(common) > 1500
    assert all(p == p.lower() and p.strip() == p for p in common)
    assert all(passwords.MIN_PASSWORD_LENGTH <= len(p) <= passwords.MAX_PASSWORD_LENGTH for p in common)
    assert {"1234567890", "qwertyuiop", "recovery123"} <= common


@pytest.mark.parametrize(
    ("password", "email", "refused"),
    [
        ("correct-horse-battery", "sam@example.org", False),
        ("a quiet alcove at dusk", "al@example.org", False),  # a 2-letter name part is not searched
        ("alcove", "al@example.org", True),  # (too short in any case)
        ("al", "al@example.org", True),
        ("Jordan.Lee-1984", "jordan.lee@example.org", True),
        ("x" * 10 + "jordan@example.org", "jordan@example.org", True),
        ("JORDAN@EXAMPLE.ORG", "jordan@example.org", True),
        ("p" * 128 + "!", "sam@example.org", True),
        ("thirty-two characters long, okay", "sam@example.org", False),
    ],
)
def test_password_problem(password: str, email: str, refused: bool) -> None:
    assert (passwords.password_problem(password, email=email) is not None) is refused


async def test_logout_makes_the_refresh_token_useless(program: Program) -> None:
    """Signing out ends that sign-in (its whole family: a token rotated since ends too) and no
    other; again, or with a token nobody issued, it answers the same 204."""
    supervisor = await program.supervisor()
    graduate = await program.graduate(await program.staff(supervisor))
    phone = await program.sign_in(graduate.email)
    tablet = await program.sign_in(graduate.email)
    rotated = (await _refresh(program, phone["refresh_token"])).json()

    out = await program.client.post("/v1/auth/logout", json={"refresh_token": phone["refresh_token"]})
    assert out.status_code == 204, out.text
    assert (await _refresh(program, rotated["refresh_token"])).status_code == 401
    assert (await _refresh(program, tablet["refresh_token"])).status_code == 200
    for token in (phone["refresh_token"], "never-issued"):
        again = await program.client.post("/v1/auth/logout", json={"refresh_token": token})
        assert again.status_code == 204, again.text
    bad = await program.client.post("/v1/auth/logout", json={})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["refresh_token"]


async def test_logout_all_ends_every_session(program: Program) -> None:
    """Every refresh-token family of the caller is revoked and every access token refused from the
    next request on, the caller's own included; unspent stream tickets die too. Signing in again
    works, and other accounts are untouched."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    sessions = [await program.sign_in(counselor.email) for _ in range(3)]
    ticket = await program.client.post("/v1/auth/stream-ticket", headers=_bearer(sessions[1]["access_token"]))
    assert ticket.status_code == 200, ticket.text
    colleague = await program.sign_in(supervisor.email)

    out = await program.client.post("/v1/auth/logout-all", headers=_bearer(sessions[0]["access_token"]))
    assert out.status_code == 204, out.text
    for session in sessions:
        assert (await _refresh(program, session["refresh_token"])).status_code == 401
        assert await _me(program, session["access_token"]) == 401
    assert await _me(program, counselor.token) == 401
    stream = await program.client.get("/v1/alerts/stream", params={"ticket": ticket.json()["ticket"]})
    assert stream.status_code == 401, stream.text
    again = await program.sign_in(counselor.email)
    assert await _me(program, again["access_token"]) == 200
    assert (await _refresh(program, colleague["refresh_token"])).status_code == 200
    assert await _me(program, supervisor.token) == 200
    assert (await program.client.post("/v1/auth/logout-all")).status_code == 401


async def test_a_token_from_before_generations_stays_good_until_the_account_signs_out(
    program: Program, settings: Settings
) -> None:
    """Access tokens issued before migration 0017 carry no ``gen``: read as generation 0, where every
    account starts, so the upgrade signs nobody out; signing out everywhere ends them like the rest."""
    supervisor = await program.supervisor()
    now = program.clock.now()
    legacy = jwt.encode(
        {
            "sub": str(supervisor.user_id),
            "role": "supervisor",
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=15)).timestamp()),
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    assert await _me(program, legacy) == 200
    assert (await program.client.post("/v1/auth/logout-all", headers=_bearer(legacy))).status_code == 204
    assert await _me(program, legacy) == 401
