"""Operations: health probes, Prometheus metrics by route template, request ids, JSON logs without
personal data."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import update

from aftercare.app import create_app
from aftercare.auth.models import User
from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.logs import JsonFormatter
from tests.conftest import PASSWORD, Program


async def test_liveness_and_readiness(program: Program) -> None:
    live = await program.client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await program.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_ready_answers_beside_an_open_write_transaction(program: Program) -> None:
    """A write in progress (on SQLite, holding the write gate) is a busy database, not an absent one."""
    async with program.app.state.session_factory() as writer, writer.begin():
        await writer.execute(update(User).values(active=True))  # takes the write lock, changes nothing
        async with asyncio.timeout(2):  # far below the busy timeout a queued read would wait out
            ready = await program.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_ready_is_503_with_retry_after_when_the_database_is_unreachable(
    settings: Settings, clock: FixedClock
) -> None:
    unreachable = replace(settings, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(unreachable, clock=clock)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/health/ready")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert "nobody" not in response.text and "127.0.0.1" not in response.text


async def test_request_id_is_echoed_or_generated(program: Program) -> None:
    mine = "req-" + uuid.uuid4().hex
    assert (await program.client.get("/health/live", headers={"X-Request-ID": mine})).headers[
        "x-request-id"
    ] == mine
    generated = (await program.client.get("/health/live")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # A hostile id (log injection) is replaced, not echoed.
    hostile = (await program.client.get("/health/live", headers={"X-Request-ID": 'a"b c'})).headers[
        "x-request-id"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)


async def test_metrics_count_requests_by_route_template(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    for _ in range(2):
        await program.client.get(f"/v1/graduates/{graduate.graduate_id}", headers=counselor.headers)
    assert (await program.client.get("/metrics")).status_code == 401  # the API port wants a token
    response = await program.client.get("/metrics", headers=counselor.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(
        r'^litestar_requests_total\{[^}]*path="/v1/graduates/\{graduate_id\}",status_code="200"\} \d',
        text,
        re.M,
    )
    assert "litestar_request_duration_seconds_bucket" in text
    assert str(graduate.graduate_id) not in text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("aftercare")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


async def test_log_lines_are_json_with_request_id_and_route_and_no_personal_data(
    program: Program, log_lines: list[str]
) -> None:
    supervisor = await program.supervisor()
    secret_name, email, password = "Quinn Privatename", "quinn-private@example.org", "Hunter-" + PASSWORD
    await program.client.post(
        "/v1/staff",
        headers=supervisor.headers,
        json={"email": email, "password": password, "display_name": secret_name, "role": "counselor"},
    )
    await program.client.post("/v1/auth/token", json={"email": email, "password": "wrong-" + password})
    await program.client.post("/v1/auth/token", json={"email": email, "password": password})
    await program.client.post(
        "/v1/staff",
        headers=supervisor.headers,
        json={"email": email, "password": "short", "display_name": secret_name, "role": "x"},
    )
    created = await program.client.post(
        "/v1/graduates",
        headers=supervisor.headers,
        json={"display_name": secret_name, "timezone": "Mars/Olympus"},
    )
    assert created.status_code == 422
    entries = [json.loads(line) for line in log_lines]
    requests = [e for e in entries if e.get("event") == "request"]
    assert len(requests) >= 5
    for entry in requests:
        assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
        assert entry["route"].startswith("/v1/")
        assert isinstance(entry["status"], int) and isinstance(entry["duration_ms"], float | int)
    assert {"/v1/staff", "/v1/auth/token", "/v1/graduates"} <= {e["route"] for e in requests}
    everything = "\n".join(log_lines)
    for personal in (secret_name, "Privatename", email, password, "quinn-private"):
        assert personal not in everything
