"""Access tokens: expiry by the injected clock, the pinned algorithm, and deactivation at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aftercare.config import Settings
from tests.conftest import Account, Program


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims_of(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _me_status(program: Program, token: str) -> int:
    response = await program.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_access_token_expires_with_the_clock(program: Program, settings: Settings) -> None:
    supervisor = await program.supervisor()
    assert await _me_status(program, supervisor.token) == 200
    program.clock.advance(minutes=settings.access_token_minutes, seconds=-1)
    assert await _me_status(program, supervisor.token) == 200
    program.clock.advance(seconds=1)
    response = await program.client.get("/v1/me", headers=supervisor.headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_token_pair_shape(program: Program, settings: Settings) -> None:
    supervisor = await program.supervisor()
    body = await program.sign_in(supervisor.email)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["role"] == "supervisor"
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


async def test_alg_none_token_is_refused(program: Program) -> None:
    supervisor = await program.supervisor()
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims_of(supervisor.token))}."
    assert await _me_status(program, forged) == 401


async def test_other_algorithms_with_the_same_secret_are_refused(
    program: Program, settings: Settings
) -> None:
    supervisor = await program.supervisor()
    claims = _claims_of(supervisor.token)
    hs512 = jwt.encode(claims, settings.jwt_secret, algorithm="HS512")
    assert await _me_status(program, hs512) == 401
    # Key confusion: an RS256 token, and an HS256 token signed with a public key as the HMAC secret.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs256 = jwt.encode(claims, key, algorithm="RS256")
    assert await _me_status(program, rs256) == 401
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(claims)
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
    assert await _me_status(program, confused) == 401


async def test_tampered_claims_and_wrong_secret_are_refused(program: Program, settings: Settings) -> None:
    supervisor = await program.supervisor()
    claims = _claims_of(supervisor.token)
    assert (
        await _me_status(program, jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")) == 401
    )
    header, _, signature = supervisor.token.split(".")
    tampered = (
        f"{header}.{_b64({**claims, 'role': 'supervisor', 'sub': str(claims['sub'])[:-1] + '0'})}.{signature}"
    )
    assert await _me_status(program, tampered) == 401
    refresh_shaped = jwt.encode({**claims, "typ": "refresh"}, settings.jwt_secret, algorithm="HS256")
    assert await _me_status(program, refresh_shaped) == 401
    for header_value in ("", "Bearer", "Basic abc", f"bearer {supervisor.token}x"):
        response = await program.client.get("/v1/me", headers={"Authorization": header_value})
        assert response.status_code == 401, header_value


async def _deactivate(program: Program, by: Account, staff: Account) -> None:
    response = await program.client.patch(
        f"/v1/staff/{staff.user_id}", headers=by.headers, json={"active": False}
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False


async def test_staff_deactivation_stops_access_and_refresh_tokens_at_once(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    refresh_token = (await program.sign_in(counselor.email))["refresh_token"]
    assert await _me_status(program, counselor.token) == 200
    await _deactivate(program, supervisor, counselor)
    # Long before the access token's expiry.
    assert await _me_status(program, counselor.token) == 401
    refreshed = await program.client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 401
    signed_in = await program.client.post(
        "/v1/auth/token", json={"email": counselor.email, "password": "correct-horse-battery"}
    )
    assert signed_in.status_code == 401
    # Reactivation restores sign-in, not the old refresh token.
    response = await program.client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"active": True}
    )
    assert response.status_code == 200
    assert (
        await program.client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
    ).status_code == 401
    assert (await program.sign_in(counselor.email))["role"] == "counselor"


async def test_supervisor_cannot_deactivate_themselves(program: Program) -> None:
    supervisor = await program.supervisor()
    response = await program.client.patch(
        f"/v1/staff/{supervisor.user_id}", headers=supervisor.headers, json={"active": False}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["active"]
