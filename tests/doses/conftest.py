"""A graduate in Chicago with a plan of two daily medications (08:00 and 21:00), and helpers to
record doses and check-ins through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Program
from tests.push.conftest import push_sender, push_session, start_push_service, vapid_keys, vapid_signer
from tests.scheduling.conftest import fresh

# The loopback push service and the sweeper's schedule rows, for the reminder's payload.
__all__ = ["fresh", "push_sender", "push_session", "start_push_service", "vapid_keys", "vapid_signer"]

MORNING = {"rrule": "FREQ=DAILY", "start_local": "2026-01-01T08:00"}
EVENING = {"rrule": "FREQ=DAILY", "start_local": "2026-01-01T21:00"}
PLAN: dict[str, Any] = {
    "medications": [
        {"id": "med-am", "name": "Naltrexone", "dose": "50 mg", "schedule": MORNING, "remind": True},
        {"id": "med-pm", "name": "Sertraline", "schedule": EVENING, "remind": False},
    ],
    "coping_skills": [{"id": "breathe", "name": "Box breathing"}, {"id": "walk", "name": "Walk"}],
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Cast:
    def __init__(self, program: Program, counselor: Account, graduate: Account) -> None:
        self.program, self.counselor, self.graduate = program, counselor, graduate

    @property
    def client(self) -> httpx.AsyncClient:
        return self.program.client

    @property
    def gid(self) -> uuid.UUID:
        assert self.graduate.graduate_id is not None
        return self.graduate.graduate_id

    def dose_body(self, medication_id: str, scheduled_for: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "client_id": str(uuid.uuid4()),
            "medication_id": medication_id,
            "scheduled_for": z(scheduled_for),
            "status": "taken",
            **fields,
        }

    async def dose(self, medication_id: str, scheduled_for: datetime, **fields: Any) -> httpx.Response:
        return await self.client.post(
            f"/v1/graduates/{self.gid}/doses",
            headers=self.graduate.headers,
            json=self.dose_body(medication_id, scheduled_for, **fields),
        )

    async def checkin(self, day: date, **answers: Any) -> httpx.Response:
        body = {
            "client_id": str(uuid.uuid4()),
            "local_date": day.isoformat(),
            "mood": 4,
            "craving": 2,
            "stress": 3,
            "used": False,
            "safety_concern": False,
            **answers,
        }
        return await self.client.post(
            f"/v1/graduates/{self.gid}/checkins", headers=self.graduate.headers, json=body
        )


async def make_cast(program: Program, plan: dict[str, Any] = PLAN, timezone: str = "America/Chicago") -> Cast:
    counselor = await program.staff(await program.supervisor())
    graduate = await program.graduate(counselor, timezone=timezone)
    response = await program.client.put(
        f"/v1/graduates/{graduate.graduate_id}/plan", headers=counselor.headers, json=plan
    )
    assert response.status_code == 201, response.text
    return Cast(program, counselor, graduate)


@pytest.fixture
async def cast(program: Program) -> Cast:
    return await make_cast(program)
