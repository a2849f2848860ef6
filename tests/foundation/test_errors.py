"""Every client mistake is an RFC 9457 problem with the right status; never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Account, Program

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def _fields(body: dict[str, Any]) -> list[str]:
    return sorted(e["field"] for e in body["errors"])


@pytest.fixture
async def supervisor(program: Program) -> Account:
    return await program.supervisor()


async def test_malformed_json_is_400(program: Program, supervisor: Account) -> None:
    for raw in (b"{", b'{"display_name": ', b"\xff\xfe", b"[1,2"):
        response = await program.client.post(
            "/v1/graduates", headers={**supervisor.headers, "Content-Type": "application/json"}, content=raw
        )
        _problem(response, 400)
    response = await program.client.post(
        "/v1/auth/token", headers={"Content-Type": "application/json"}, content=b"nope"
    )
    _problem(response, 400)


async def test_body_over_64_kib_is_413(program: Program, supervisor: Account) -> None:
    big = {"display_name": "x" * (65 * 1024), "timezone": "UTC"}
    _problem(await program.client.post("/v1/graduates", headers=supervisor.headers, json=big), 413)
    _problem(
        await program.client.post("/v1/auth/token", json={"email": "a@b.co", "password": "p" * 70000}), 413
    )


async def test_validation_is_422_with_json_paths(program: Program, supervisor: Account) -> None:
    nested = await program.client.post(
        "/v1/graduates",
        headers=supervisor.headers,
        json={
            "display_name": "A",
            "timezone": "UTC",
            "quiet_hours": {"start": "25:00", "end": "08:00"},
        },
    )
    assert _fields(_problem(nested, 422)) == ["quiet_hours.start"]
    assert _problem(nested, 422)["type"] == "/problems/validation"
    half = await program.client.post(
        "/v1/graduates",
        headers=supervisor.headers,
        json={
            "display_name": "A",
            "timezone": "UTC",
            "quiet_hours": {"start": "08:00"},
        },
    )
    assert _fields(_problem(half, 422)) == ["quiet_hours.end"]
    wrong_type = await program.client.post(
        "/v1/graduates", headers=supervisor.headers, json={"display_name": 5, "timezone": "UTC"}
    )
    assert _fields(_problem(wrong_type, 422)) == ["display_name"]
    missing = await program.client.post(
        "/v1/graduates", headers=supervisor.headers, json={"display_name": "A"}
    )
    assert _fields(_problem(missing, 422)) == ["timezone"]
    unknown = await program.client.post(
        "/v1/graduates",
        headers=supervisor.headers,
        json={"display_name": "A", "timezone": "UTC", "colour": "red"},
    )
    assert _fields(_problem(unknown, 422)) == ["colour"]
    not_object = await program.client.post("/v1/graduates", headers=supervisor.headers, json=[1])
    _problem(not_object, 422)
    bad_email = await program.client.post("/v1/auth/token", json={"email": "not-an-email", "password": "x"})
    assert _fields(_problem(bad_email, 422)) == ["email"]


async def test_query_parameters_are_validated(program: Program, supervisor: Account) -> None:
    for params, status, field in (
        ({"limit": 0}, 422, "limit"),
        ({"limit": 201}, 422, "limit"),
        ({"limit": "ten"}, 422, "limit"),
        # A cursor is opaque: one the list did not issue is a bad request, not a field to correct.
        ({"cursor": "!!not-a-cursor!!"}, 400, "cursor"),
        ({"cursor": "e30"}, 400, "cursor"),
        ({"cursor": "W10"}, 400, "cursor"),
    ):
        response = await program.client.get("/v1/graduates", headers=supervisor.headers, params=params)
        assert _fields(_problem(response, status)) == [field], params
    staff = await program.client.get("/v1/staff", headers=supervisor.headers, params={"cursor": "%%%"})
    assert _fields(_problem(staff, 400)) == ["cursor"]


async def test_unknown_path_and_wrong_method(program: Program, supervisor: Account) -> None:
    _problem(await program.client.get("/v1/nothing-here"), 404)
    _problem(await program.client.get("/v1/graduates/not-a-uuid", headers=supervisor.headers), 404)
    wrong = await program.client.delete("/v1/graduates", headers=supervisor.headers)
    _problem(wrong, 405)
    assert "GET" in wrong.headers.get("allow", "")
    _problem(await program.client.put("/health/live"), 405)


async def test_path_id_of_nobody_is_404(program: Program, supervisor: Account) -> None:
    _problem(
        await program.client.get(
            "/v1/graduates/01a2132f-052c-7205-953e-1b37ed2187a7", headers=supervisor.headers
        ),
        404,
    )
    _problem(
        await program.client.patch(
            "/v1/staff/01a2132f-052c-7205-953e-1b37ed2187a7",
            headers=supervisor.headers,
            json={"active": True},
        ),
        404,
    )


async def test_wrong_content_type_and_empty_body_are_not_500(program: Program, supervisor: Account) -> None:
    for kwargs in (
        {"content": b""},
        {"content": b"display_name=A", "headers": {"Content-Type": "text/plain"}},
        {"content": b"null", "headers": {"Content-Type": "application/json"}},
    ):
        headers = {**supervisor.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        response = await program.client.post("/v1/graduates", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert response.status_code in (400, 415, 422), response.text
        assert response.headers["content-type"].startswith(PROBLEM)
