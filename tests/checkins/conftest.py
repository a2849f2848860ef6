from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from tests.conftest import Account, Program

PLAN: dict[str, Any] = {
    "coping_skills": [
        {"id": "breathe", "name": "Box breathing"},
        {"id": "call-sponsor", "name": "Call my sponsor"},
        {"id": "walk", "name": "Walk around the block"},
    ],
    "triggers": [
        {
            "id": "payday",
            "name": "Payday",
            "category": "situations",
            "coping_skill_ids": ["call-sponsor"],
            "risk": "high",
        },
        {
            "id": "lonely",
            "name": "Feeling lonely",
            "category": "emotions",
            "coping_skill_ids": ["call-sponsor", "walk"],
            "risk": "medium",
        },
    ],
    "crisis_plan": {"steps": ["Call Sam", "Go to my sister's"], "crisis_line": "988"},
}


def checkin_body(day: date, **answers: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "local_date": day.isoformat(),
        "mood": 4,
        "craving": 2,
        "stress": 3,
        "used": False,
        "safety_concern": False,
    }
    body.update(answers)
    return body


class Cast:
    def __init__(self, program: Program, supervisor: Account, counselor: Account, graduate: Account) -> None:
        self.program, self.supervisor, self.counselor, self.graduate = (
            program,
            supervisor,
            counselor,
            graduate,
        )

    @property
    def gid(self) -> uuid.UUID:
        assert self.graduate.graduate_id is not None
        return self.graduate.graduate_id

    async def submit(self, day: date, **answers: Any) -> Any:
        return await self.program.client.post(
            f"/v1/graduates/{self.gid}/checkins",
            headers=self.graduate.headers,
            json=checkin_body(day, **answers),
        )

    async def alerts(self, by: Account | None = None, **params: Any) -> list[dict[str, Any]]:
        response = await self.program.client.get(
            "/v1/alerts",
            headers=(by or self.counselor).headers,
            params={"graduate_id": str(self.gid), **params},
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
async def cast(program: Program) -> Cast:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, timezone="America/Chicago")
    response = await program.client.put(
        f"/v1/graduates/{graduate.graduate_id}/plan", headers=counselor.headers, json=PLAN
    )
    assert response.status_code == 201, response.text
    return Cast(program, supervisor, counselor, graduate)
