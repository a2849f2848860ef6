"""SIGKILL under fire: phones keep submitting check-ins, amending them and asking for help while the
server is killed (SIGKILL, no shutdown) and restarted again and again. Each phone retries the very
same request until it gets an answer, as the app does on a flaky network.

Afterwards, read straight from the database: every check-in and help request that was answered
201 (or 200 as a replay) is stored exactly once, under the id the phone was given; nothing was
stored that no phone was answered for; every answered amendment is one version, a retried one none.

Bounded: ``KILLS`` kills per engine (the long variant, ``AFTERCARE_HOSTILE_LONG=1``, ten, with more
phones).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest
from aftercare.config import Settings
from aftercare.db.engine import make_engine
from tests.hostile.servers import ENGINES, LONG, PASSWORD, Served, call, cli, environment, serve

KILLS = 10 if LONG else 3
PHONES = 24 if LONG else 10
SECONDS_BETWEEN_KILLS = (1.0, 2.5)
FIGURES: dict[str, dict[str, int]] = {}


@dataclass
class Ledger:
    """What the phones were told: the ground truth the database must match."""

    checkins: dict[str, str] = field(default_factory=dict)  # client_id -> checkin id answered
    helps: dict[str, str] = field(default_factory=dict)  # client_id -> help request id answered
    amendments: Counter[str] = field(default_factory=Counter)  # checkin id -> amendments answered
    last_note: dict[str, str] = field(default_factory=dict)  # checkin id -> the last note answered
    retries: int = 0
    answered: int = 0
    problems: list[str] = field(default_factory=list)


class Phone:
    """One graduate's app: a request is sent again, unchanged, until the server answers it."""

    def __init__(self, base_url: str, token: str, graduate_id: str, ledger: Ledger) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=5.0)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.graduate_id = graduate_id
        self.ledger = ledger

    async def send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        await asyncio.sleep(random.uniform(0.05, 0.3))  # people, not a benchmark: spread over the kills
        while True:
            try:
                response = await self.client.request(method, path, json=body, headers=self.headers)
            except httpx.TransportError:  # refused, reset, cut off mid-answer: the server died
                response = None
            if response is not None and response.status_code < 500:
                self.ledger.answered += 1
                return response
            self.ledger.retries += 1
            await asyncio.sleep(random.uniform(0.05, 0.2))

    async def run(self, today: str, days: list[str], amendments: int, helps: int) -> None:
        base = f"/v1/graduates/{self.graduate_id}"
        for number, day in enumerate(days):
            client_id = str(uuid.uuid4())
            body = {
                "client_id": client_id,
                "local_date": day,
                "mood": 1 + number % 5,
                "craving": number % 11,
                "stress": 3,
                "used": False,
                "safety_concern": False,
                "note": f"day {day}",
            }
            response = await self.send("POST", f"{base}/checkins", body)
            if response.status_code not in (200, 201):
                self.ledger.problems.append(f"check-in {day}: {response.status_code} {response.text[:200]}")
                continue
            self.ledger.checkins[client_id] = response.json()["id"]
            if day == today:
                await self.amend(response.json()["id"], amendments)
            if number % max(1, len(days) // helps) == 0:
                await self.help()
        await self.client.aclose()

    async def amend(self, checkin_id: str, times: int) -> None:
        for number in range(times):
            note = f"amendment {number} of {checkin_id}"
            response = await self.send(
                "PATCH", f"/v1/graduates/{self.graduate_id}/checkins/{checkin_id}", {"note": note}
            )
            if response.status_code != 200:
                self.ledger.problems.append(f"amend: {response.status_code} {response.text[:200]}")
                return
            self.ledger.amendments[checkin_id] += 1
            self.ledger.last_note[checkin_id] = note

    async def help(self) -> None:
        client_id = str(uuid.uuid4())
        body = {"client_id": client_id, "message": "I need to talk to someone"}
        response = await self.send("POST", f"/v1/graduates/{self.graduate_id}/help", body)
        if response.status_code not in (200, 201):
            self.ledger.problems.append(f"help: {response.status_code} {response.text[:200]}")
            return
        self.ledger.helps[client_id] = response.json()["id"]


def _enroll_phones(base_url: str, count: int) -> list[tuple[str, str]]:
    _, signed_in = call(base_url, "POST", "/v1/auth/token", {"email": "sup@kill.test", "password": PASSWORD})
    supervisor = signed_in["access_token"]
    phones = []
    for number in range(count):
        status, made = call(
            base_url, "POST", "/v1/graduates", {"display_name": f"G{number}", "timezone": "UTC"}, supervisor
        )
        assert status == 201, made
        body = {
            "enrollment_code": made["enrollment_code"],
            "email": f"g{number}@kill.test",
            "password": PASSWORD,
        }
        status, enrolled = call(base_url, "POST", "/v1/auth/enroll", body)
        assert status == 201, enrolled
        phones.append((enrolled["access_token"], made["id"]))
    return phones


async def _kill_again_and_again(server: list[Served], kills: int, done: asyncio.Event) -> int:
    killed = 0
    while killed < kills and not done.is_set():
        await asyncio.sleep(random.uniform(*SECONDS_BETWEEN_KILLS))
        server[0].kill()
        killed += 1
        server[0] = await asyncio.to_thread(serve, server[0].env, port=server[0].port)
    return killed


async def _stored(env: dict[str, str]) -> dict[str, Any]:
    settings = Settings.from_env(env)
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            checkins = (await connection.execute(select(Checkin.client_id, Checkin.id, Checkin.note))).all()
            helps = (await connection.execute(select(HelpRequest.client_id, HelpRequest.id))).all()
            versions = (
                await connection.execute(
                    select(CheckinVersion.checkin_id, func.count()).group_by(CheckinVersion.checkin_id)
                )
            ).all()
    finally:
        await engine.dispose()
    return {"checkins": checkins, "helps": helps, "versions": dict(versions)}


@pytest.mark.parametrize("engine", ENGINES)
async def test_every_answered_write_survives_sigkill_exactly_once(engine: str, tmp_path: Path) -> None:
    random.seed(21)
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
            "sup@kill.test",
            stdin=PASSWORD + "\n",
        )
        server = [await asyncio.to_thread(serve, env)]
        try:
            phones_made = await asyncio.to_thread(_enroll_phones, server[0].base_url, PHONES)
            now = datetime.now(UTC)
            # Six days back, not seven: a run that crosses midnight keeps every day in the window.
            days = [(now - timedelta(days=back)).date().isoformat() for back in range(6, -1, -1)]
            ledger = Ledger()
            done = asyncio.Event()
            phones = [Phone(server[0].base_url, token, gid, ledger) for token, gid in phones_made]
            killer = asyncio.create_task(_kill_again_and_again(server, KILLS, done))
            work = asyncio.gather(*(p.run(days[-1], days, amendments=3, helps=3) for p in phones))
            await work
            if not killer.done():
                # The phones finished first: keep them asking for help until every kill has happened.
                while not killer.done():
                    extra = [Phone(server[0].base_url, t, g, ledger) for t, g in phones_made]
                    await asyncio.gather(*(p.help() for p in extra))
                    await asyncio.gather(*(p.client.aclose() for p in extra))
            done.set()
            kills = await killer
        finally:
            server[0].stop()
        stored = await _stored(env)

    assert not ledger.problems, ledger.problems
    assert kills == KILLS
    checkin_ids = Counter(str(row.client_id) for row in stored["checkins"])
    help_ids = Counter(str(row.client_id) for row in stored["helps"])
    assert [c for c, n in checkin_ids.items() if n > 1] == [], "a check-in stored twice"
    assert [c for c, n in help_ids.items() if n > 1] == [], "a help request stored twice"
    by_client = {str(row.client_id): str(row.id) for row in stored["checkins"]}
    assert {c: by_client.get(c) for c in ledger.checkins} == ledger.checkins, "an answered check-in lost"
    assert set(by_client) == set(ledger.checkins), "a check-in stored that no phone was answered for"
    helps_by_client = {str(row.client_id): str(row.id) for row in stored["helps"]}
    assert {c: helps_by_client.get(c) for c in ledger.helps} == ledger.helps, "an answered help request lost"
    assert set(helps_by_client) == set(ledger.helps)
    notes = {str(row.id): row.note for row in stored["checkins"]}
    versions = {str(k): v for k, v in stored["versions"].items()}
    for checkin_id, answered in ledger.amendments.items():
        assert versions.get(checkin_id, 0) == answered, (
            f"{checkin_id}: {versions.get(checkin_id)} versions, {answered} amendments"
        )
        assert notes[checkin_id] == ledger.last_note[checkin_id]
    FIGURES[engine] = {
        "kills": kills,
        "checkins": len(ledger.checkins),
        "helps": len(ledger.helps),
        "amendments": sum(ledger.amendments.values()),
        "retries": ledger.retries,
        "lost": 0,
        "doubled": 0,
    }
    print(f"\ndurability {engine}: {FIGURES[engine]}")
