"""Security headers on every response and CORS only for configured origins (issue 21, item 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.app import create_app
from aftercare.clock import FixedClock
from aftercare.config import ConfigError, Settings
from tests.auth.test_access_matrix import concrete_path, our_routes
from tests.conftest import Program

CONSOLE = "https://console.example.org"


def assert_secure(response: httpx.Response, label: str) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", label
    assert headers["x-frame-options"] == "DENY", label
    assert headers["cache-control"] == "no-store", label  # also on the stream, whose own was no-cache
    assert headers["referrer-policy"] == "no-referrer", label
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, label
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[-1].split(";")[0], label
    assert "'unsafe-eval'" not in csp, label
    assert len(headers.get_list("cache-control")) == 1, label


async def test_every_response_carries_the_security_headers(app: Litestar, program: Program) -> None:
    """Every route as a supervisor and anonymously (answers, problems, the guard's refusals), the
    router's own 404 and 405, and the API reference's HTML page."""
    supervisor = await program.supervisor()
    graduate = await program.graduate(await program.staff(supervisor))
    assert graduate.graduate_id is not None
    checked = 0
    for template, method, handler in our_routes(app):
        if handler.opt.get("streams"):
            continue
        path = concrete_path(template, graduate.graduate_id)
        for headers in ({}, supervisor.headers):
            response = await program.client.request(
                method, path, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None
            )
            assert_secure(response, f"{method} {template}: {response.status_code}")
            checked += 1
    for method, path in (
        ("GET", "/no/such/path"),
        ("DELETE", "/health/live"),
        ("GET", "/schema/openapi.json"),
    ):
        assert_secure(await program.client.request(method, path), f"{method} {path}")
    page = await program.client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_secure(page, "GET /schema")
    csp = page.headers["content-security-policy"]
    assert "script-src https://cdn.jsdelivr.net;" in csp and "connect-src 'self'" in csp
    assert checked > 60


async def test_the_stream_is_not_cached_either(program: Program) -> None:
    supervisor = await program.supervisor()
    # A graduate's refusal is enough: the stream's own 200 never ends in an in-process client.
    graduate = await program.graduate(await program.staff(supervisor))
    refused = await program.client.get("/v1/alerts/stream", headers=graduate.headers)
    assert refused.status_code == 403
    assert_secure(refused, "GET /v1/alerts/stream as a graduate")


@pytest.fixture
async def cors_client(
    settings: Settings, clock: FixedClock, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, cors_origins=(CONSOLE,)), clock=clock, engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:  # type: ignore[arg-type]
        yield client


def _preflight(
    origin: str, method: str = "PUT", headers: str = "authorization, content-type, if-match"
) -> dict[str, Any]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_cors_answers_only_the_configured_origins(cors_client: httpx.AsyncClient) -> None:
    path = "/v1/graduates/00000000-0000-0000-0000-000000000000/plan"
    allowed = await cors_client.options(path, headers=_preflight(CONSOLE))
    assert allowed.status_code == 204, allowed.text
    assert allowed.headers["access-control-allow-origin"] == CONSOLE
    assert "Origin" in allowed.headers["vary"]
    assert {"authorization", "content-type", "if-match"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
    }
    assert "access-control-allow-credentials" not in allowed.headers  # bearer tokens, never cookies
    assert_secure(allowed, "preflight")

    elsewhere = await cors_client.options(path, headers=_preflight("https://evil.example"))
    assert "access-control-allow-origin" not in elsewhere.headers
    assert elsewhere.status_code >= 400

    simple = await cors_client.get("/health/live", headers={"Origin": CONSOLE})
    assert simple.headers["access-control-allow-origin"] == CONSOLE
    exposed = {h.strip().lower() for h in simple.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "retry-after", "x-request-id"} <= exposed  # If-Match needs the ETag
    foreign = await cors_client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers


async def test_no_cors_without_configured_origins(program: Program) -> None:
    """The default: no origin may call the API from a browser page of another site."""
    response = await program.client.options("/v1/me", headers=_preflight(CONSOLE, "GET", "authorization"))
    assert "access-control-allow-origin" not in response.headers
    simple = await program.client.get("/health/live", headers={"Origin": CONSOLE})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_origins_are_exact_origins() -> None:
    settings = Settings.from_env(
        {"AFTERCARE_CORS_ORIGINS": "https://Console.example.org/, http://127.0.0.1:5173"}
    )
    assert settings.cors_origins == ("https://console.example.org", "http://127.0.0.1:5173")
    for bad in (
        "*",
        "https://console.example.org/app",
        "console.example.org",
        "https://*.example.org",
        "ftp://x.org",
    ):
        with pytest.raises(ConfigError, match="AFTERCARE_CORS_ORIGINS"):
            Settings.from_env({"AFTERCARE_CORS_ORIGINS": bad})
