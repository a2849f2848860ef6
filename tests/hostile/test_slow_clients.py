"""Slow clients are cut off (``aftercare/serving.py``): a connection that sends nothing, headers sent
a byte at a time, a body that stops halfway. Each is closed once the read deadline passes (a 408
where no request has started), while an ordinary client is served throughout, also with a crowd of
slow ones holding connections open."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import httpx
import pytest

from tests.hostile.servers import Served, environment, serve

DEADLINE = 2.0
SLOW_CROWD = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Served:
    env_dir = tmp_path_factory.mktemp("slow")
    with environment("sqlite", env_dir, AFTERCARE_REQUEST_READ_TIMEOUT_SECONDS=str(DEADLINE)) as env:
        served = serve(env)
        yield served  # type: ignore[misc]
        served.stop()


async def _held_for(port: int, opening: bytes, trickle: bytes = b"") -> tuple[float, bytes]:
    """Seconds until the server closes a connection that sent ``opening`` and then ``trickle`` a
    byte every 0.2 s; and everything it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(opening)
    answered = b""
    try:
        while time.monotonic() - started < 6 * DEADLINE:
            if trickle:
                writer.write(trickle)
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                continue
            if not chunk:
                break
            answered += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answered


@pytest.mark.parametrize(
    ("label", "opening", "trickle", "status"),
    [
        ("silent connection", b"", b"", b"408"),
        ("headers a byte at a time", b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a", b"408"),
        (
            "body that stops",
            b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
            b"",
            b"",
        ),
        (
            "body a byte at a time",
            b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
            b" ",
            b"",
        ),
    ],
)
async def test_a_slow_client_is_cut_off_at_the_deadline(
    server: Served, label: str, opening: bytes, trickle: bytes, status: bytes
) -> None:
    held, answered = await _held_for(server.port, opening, trickle)
    assert DEADLINE * 0.9 <= held < DEADLINE + 2.0, f"{label}: held {held:.1f} s"
    if status:
        assert answered.startswith(b"HTTP/1.1 " + status), (label, answered[:200])
        assert b"application/problem+json" in answered
    else:
        assert b" 200 " not in answered and b" 500 " not in answered, (label, answered[:200])


async def test_ordinary_clients_are_served_while_a_crowd_of_slow_ones_waits(server: Served) -> None:
    await asyncio.to_thread(_kept_alive_client_is_served, server)

    async def slowloris() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except OSError:
            return
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(), 6 * DEADLINE)
        writer.close()

    crowd = [asyncio.create_task(slowloris()) for _ in range(SLOW_CROWD)]
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        started = time.monotonic()
        answered = 0
        while time.monotonic() - started < DEADLINE + 1:
            response = await client.get("/health/live")
            assert response.status_code == 200
            answered += 1
    await asyncio.gather(*crowd)
    assert answered > 20


def _kept_alive_client_is_served(server: Served) -> None:
    """A kept-alive client between requests is uvicorn's keep-alive's business, not the deadline's."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"}"):
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(DEADLINE * 0.6)  # twice that in all: the clock restarts with each request
