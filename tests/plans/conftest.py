"""Fixtures for the plan tests: a small program (supervisor, a counselor, their graduate) and a
typical plan built from the shipped template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from aftercare.plans.templates import load_templates
from tests.conftest import Account, Program


@dataclass
class Cast:
    supervisor: Account
    counselor: Account
    graduate: Account

    @property
    def plan_url(self) -> str:
        return f"/v1/graduates/{self.graduate.graduate_id}/plan"


@pytest.fixture
async def cast(program: Program) -> Cast:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    return Cast(supervisor, counselor, graduate)


def typical_plan() -> dict[str, Any]:
    """The standard template as a client would send it (a fresh dict each time, safe to edit)."""
    body: dict[str, Any] = msgspec.to_builtins(load_templates()[0].plan)
    return body


async def create_plan(
    client: httpx.AsyncClient, cast: Cast, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.put(cast.plan_url, headers=cast.counselor.headers, json=body or typical_plan())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
