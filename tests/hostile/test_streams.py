"""300 alert streams held open while alerts keep coming, and a plan GET's p99 beside them.

A real server on each engine; 300 ``GET /v1/alerts/stream`` connections (raw sockets, so the load
generator costs little) are held for ``HOLD_SECONDS`` while graduates ask for help one after another.
Every stream must stay open and see every alert it may see, once; meanwhile one client reads a plan
again and again, and its p99 is compared with the same reads before the streams opened and after
they closed. The long
variant (``AFTERCARE_HOSTILE_LONG=1``) holds them for the issue's full minute.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.hostile.conftest import PLAN
from tests.hostile.servers import ENGINES, LONG, PASSWORD, call, cli, environment, serve

STREAMS = 300
HOLD_SECONDS = 60 if LONG else 10
# An alert every five seconds or so: a busy program's pace, each one fanned out to all 300 streams.
ALERTS = 12 if LONG else 2
FIGURES: dict[str, dict[str, float]] = {}


class Stream:
    """One EventSource-like reader over a raw socket: counts the alert events it is sent."""

    def __init__(self) -> None:
        self.event_ids: list[int] = []
        self.arrived: list[float] = []
        self.open = False
        self.closed_early = False

    async def hold(self, port: int, token: str, until: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /v1/alerts/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        status = await reader.readline()
        assert b" 200 " in status, status
        self.open = True
        try:
            while not until.is_set():
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.5)
                except TimeoutError:
                    continue
                if not line:
                    self.closed_early = not until.is_set()
                    return
                if line.startswith(b"id: "):
                    self.event_ids.append(int(line[4:]))
                    self.arrived.append(time.monotonic())
        finally:
            writer.close()


async def _plan_gets(base_url: str, token: str, path: str, seconds: float) -> list[float]:
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.01)  # a steady trickle of reads, not a flood
    return samples


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


@pytest.mark.parametrize("engine", ENGINES)
async def test_300_streams_held_while_a_plan_get_keeps_its_p99(engine: str, tmp_path: Path) -> None:
    with environment(engine, tmp_path / "data", AFTERCARE_SCHEDULER="off") as env:
        await asyncio.to_thread(cli, env, "migrate")
        await asyncio.to_thread(
            cli,
            env,
            "users",
            "create",
            "--role",
            "supervisor",
            "--email",
            "sup@streams.test",
            stdin=PASSWORD + "\n",
        )
        server = await asyncio.to_thread(serve, env)
        try:
            base = server.base_url
            token = call(base, "POST", "/v1/auth/token", {"email": "sup@streams.test", "password": PASSWORD})[
                1
            ]["access_token"]
            graduates = []
            for number in range(ALERTS):
                made = call(
                    base, "POST", "/v1/graduates", {"display_name": f"S{number}", "timezone": "UTC"}, token
                )[1]
                enroll = {
                    "enrollment_code": made["enrollment_code"],
                    "email": f"s{number}@s.test",
                    "password": PASSWORD,
                }
                graduates.append(
                    (made["id"], call(base, "POST", "/v1/auth/enroll", enroll)[1]["access_token"])
                )
            plan_path = f"/v1/graduates/{graduates[0][0]}/plan"
            assert call(base, "PUT", plan_path, PLAN, token)[0] == 201

            quiet = await _plan_gets(base, token, plan_path, 4)
            stop = asyncio.Event()
            streams = [Stream() for _ in range(STREAMS)]
            holders = []
            for stream in streams:  # consoles connect over a few seconds, not in one instant
                holders.append(asyncio.create_task(stream.hold(server.port, token, stop)))
                await asyncio.sleep(0.01)
            while sum(s.open for s in streams) < STREAMS:
                await asyncio.sleep(0.1)
                assert not any(h.done() and h.exception() for h in holders), [
                    h.exception() for h in holders if h.done()
                ]

            sent_at: list[float] = []

            async def alerts() -> None:
                for gid, graduate_token in graduates:
                    await asyncio.sleep(HOLD_SECONDS / (ALERTS + 1))
                    body = {"client_id": str(uuid.uuid4())}
                    sent_at.append(time.monotonic())
                    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                        response = await client.post(
                            f"/v1/graduates/{gid}/help",
                            json=body,
                            headers={"Authorization": f"Bearer {graduate_token}"},
                        )
                    assert response.status_code == 201, response.text

            held_since = time.monotonic()
            during, _ = await asyncio.gather(_plan_gets(base, token, plan_path, HOLD_SECONDS), alerts())
            await asyncio.sleep(2)  # the last alert reaches every stream
            held = time.monotonic() - held_since
            stop.set()
            await asyncio.gather(*holders)
            # Quiet again: the machine's load drifts, so the streams are judged against both sides.
            after = await _plan_gets(base, token, plan_path, 4)
        finally:
            server.stop()

    assert not [s for s in streams if s.closed_early], "a stream was closed while held"
    # An alert is one event as it opens and more as the escalation policy notifies its levels: every
    # stream must have seen the same events, at least one per alert, each once and in order.
    assert len({tuple(s.event_ids) for s in streams}) == 1, "the streams saw different events"
    assert len(streams[0].event_ids) >= ALERTS
    assert all(s.event_ids == sorted(set(s.event_ids)) for s in streams), "an event repeated or out of order"
    quiet_p99, during_p99 = max(_p99(quiet), _p99(after)), _p99(during)
    # From sending each help request until the last of the 300 streams had that alert's events (the
    # alerts are seconds apart, so each one's events arrive before the next is sent).
    windows = [*zip(sent_at, [*sent_at[1:], float("inf")], strict=True)]
    fan_out = [
        max(at for s in streams for at in s.arrived if start <= at < end) - start for start, end in windows
    ]
    FIGURES[engine] = {
        "streams": STREAMS,
        "held_seconds": round(held, 1),
        "plan_get_p99_ms_quiet": round(quiet_p99 * 1000, 1),
        "plan_get_p99_ms_streams": round(during_p99 * 1000, 1),
        "plan_gets": len(during),
        "alerts": ALERTS,
        "slowest_fan_out_ms": round(max(fan_out) * 1000, 1),
    }
    print(f"\nstreams {engine}: {FIGURES[engine]}")
    # Kept: the p99 with 300 streams open stays within noise of the quiet one. The margin is for a
    # machine shared with other work (a p99 of 300 reads is their third slowest); the keep-alive
    # burst this test found (docs/RELIABILITY.md, finding 13) tripled it.
    assert during_p99 < max(3 * quiet_p99, quiet_p99 + 0.1), FIGURES[engine]
