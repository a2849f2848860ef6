"""Enrollment codes (single use, 14 days, unambiguous, hashed, reissued) and the password policy."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import MetaData, select

from aftercare.auth.tokens import ENROLLMENT_ALPHABET, ENROLLMENT_LENGTH, new_enrollment_code
from tests.conftest import PASSWORD, Account, Program, unique_email


async def _new_graduate(program: Program) -> tuple[Account, dict[str, Any]]:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    response = await program.client.post(
        "/v1/graduates",
        headers=counselor.headers,
        json={"display_name": "Robin Q.", "timezone": "Europe/Berlin"},
    )
    assert response.status_code == 201, response.text
    return counselor, response.json()


async def _enroll(program: Program, code: str, password: str = PASSWORD) -> Any:
    return await program.client.post(
        "/v1/auth/enroll", json={"enrollment_code": code, "email": unique_email("grad"), "password": password}
    )


def test_code_alphabet_and_strength() -> None:
    assert not set("01OIL") & set(ENROLLMENT_ALPHABET)
    assert math.log2(len(set(ENROLLMENT_ALPHABET))) * ENROLLMENT_LENGTH >= 40
    for _ in range(200):
        code = new_enrollment_code()
        assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code)
        assert set(code.replace("-", "")) <= set(ENROLLMENT_ALPHABET)


async def test_enrollment_code_works_once(program: Program) -> None:
    _, created = await _new_graduate(program)
    first = await _enroll(program, created["enrollment_code"])
    assert first.status_code == 201, first.text
    tokens = first.json()
    assert tokens["role"] == "graduate" and tokens["graduate_id"] == created["id"]
    assert (await _enroll(program, created["enrollment_code"])).status_code == 401
    me = await program.client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["graduate_id"] == created["id"]


async def test_code_is_accepted_in_lower_case_without_the_dash(program: Program) -> None:
    _, created = await _new_graduate(program)
    typed = created["enrollment_code"].replace("-", "").lower()
    assert (await _enroll(program, typed)).status_code == 201


async def test_enrollment_code_expires_after_14_days(program: Program) -> None:
    counselor, created = await _new_graduate(program)
    assert created["enrollment_code_expires_at"].endswith("Z")
    program.clock.advance(days=14)
    assert (await _enroll(program, created["enrollment_code"])).status_code == 401
    fresh = {"Authorization": f"Bearer {(await program.sign_in(counselor.email))['access_token']}"}
    reissued = await program.client.post(f"/v1/graduates/{created['id']}/enrollment-code", headers=fresh)
    assert reissued.status_code == 201, reissued.text
    program.clock.advance(days=14, seconds=-1)
    assert (await _enroll(program, reissued.json()["enrollment_code"])).status_code == 201


async def test_reissue_kills_the_old_code(program: Program) -> None:
    counselor, created = await _new_graduate(program)
    response = await program.client.post(
        f"/v1/graduates/{created['id']}/enrollment-code", headers=counselor.headers
    )
    assert response.status_code == 201, response.text
    reissued = response.json()
    assert reissued["enrollment_code"] != created["enrollment_code"]
    assert set(reissued) >= {"enrollment_code", "expires_at"}
    assert (await _enroll(program, created["enrollment_code"])).status_code == 401
    assert (await _enroll(program, reissued["enrollment_code"])).status_code == 201


async def test_reenrollment_after_reissue_replaces_the_old_sign_in(program: Program) -> None:
    counselor, created = await _new_graduate(program)
    old = (await _enroll(program, created["enrollment_code"])).json()
    code = (
        await program.client.post(f"/v1/graduates/{created['id']}/enrollment-code", headers=counselor.headers)
    ).json()["enrollment_code"]
    assert (await _enroll(program, code)).status_code == 201
    refreshed = await program.client.post("/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert refreshed.status_code == 401
    # The lost phone's access token stops at once too, not when it expires.
    old_headers = {"Authorization": f"Bearer {old['access_token']}"}
    assert (
        await program.client.get(f"/v1/graduates/{created['id']}", headers=old_headers)
    ).status_code == 401
    assert (await program.client.get("/v1/me", headers=old_headers)).status_code == 401


async def test_codes_are_stored_hashed(program: Program) -> None:
    _, created = await _new_graduate(program)
    code = created["enrollment_code"]
    plain = {code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()}
    metadata = MetaData()
    async with program.app.state.session_factory() as session:
        connection = await session.connection()
        await connection.run_sync(metadata.reflect)
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                text = " ".join(str(value) for value in row)
                assert not any(p in text for p in plain), f"enrollment code in plain text in {table.name}"


async def test_password_policy_on_enrollment(program: Program) -> None:
    _, created = await _new_graduate(program)
    for weak in ("short1", "password123", "aaaaaaaaaaaa"):
        response = await _enroll(program, created["enrollment_code"], password=weak)
        assert response.status_code == 422, weak
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["password"]
    # A refused password does not use the code up.
    assert (await _enroll(program, created["enrollment_code"])).status_code == 201


async def test_password_policy_on_staff_creation(program: Program) -> None:
    supervisor = await program.supervisor()
    for weak in ("short", "Password123"):
        response = await program.client.post(
            "/v1/staff",
            headers=supervisor.headers,
            json={"email": unique_email("c"), "password": weak, "display_name": "C", "role": "counselor"},
        )
        assert response.status_code == 422, weak
        assert [e["field"] for e in response.json()["errors"]] == ["password"]


async def test_duplicate_email_is_409(program: Program) -> None:
    supervisor = await program.supervisor()
    body = {"email": supervisor.email, "password": PASSWORD, "display_name": "C", "role": "counselor"}
    response = await program.client.post("/v1/staff", headers=supervisor.headers, json=body)
    assert response.status_code == 409
    _, created = await _new_graduate(program)
    enrolled = await program.client.post(
        "/v1/auth/enroll",
        json={
            "enrollment_code": created["enrollment_code"],
            "email": supervisor.email.upper(),
            "password": PASSWORD,
        },
    )
    assert enrolled.status_code == 409


async def test_discharge_keeps_the_data(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, display_name="Kim D.", checkin_time="18:30")
    response = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}",
        headers=counselor.headers,
        json={"status": "discharged", "discharge_date": "2026-11-24"},
    )
    assert response.status_code == 200, response.text
    after = await program.client.get(f"/v1/graduates/{graduate.graduate_id}", headers=counselor.headers)
    body = after.json()
    assert body["status"] == "discharged" and body["discharge_date"] == "2026-11-24"
    assert body["display_name"] == "Kim D." and body["checkin_time"] == "18:30" and body["enrolled"] is True
    listed = await program.client.get("/v1/graduates", headers=counselor.headers)
    assert [g["id"] for g in listed.json()["items"]] == [str(graduate.graduate_id)]
    own = await program.client.get(f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers)
    assert own.status_code == 200 and own.json()["status"] == "discharged"
