"""A graduate's time-zone history: kept from enrollment on, shown newest first, and read wherever a
past instant is shown on the graduate's clock (the reminders list, the timeline), across a move and
across both DST changes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from aftercare.flows.sweep import sweep
from tests.conftest import Account, Program


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def enrolled(program: Program, timezone: str = "America/Chicago") -> tuple[Account, Account]:
    counselor = await program.staff(await program.supervisor())
    return counselor, await program.graduate(counselor, timezone=timezone)


async def move(program: Program, graduate: Account, timezone: str) -> httpx.Response:
    response = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"timezone": timezone}
    )
    assert response.status_code == 200, response.text
    return response


async def prompts(
    program: Program, who: Account, graduate: Account, start: datetime, end: datetime
) -> list[Any]:
    response = await program.client.get(
        f"/v1/graduates/{graduate.graduate_id}/reminders",
        headers=who.headers,
        params={"from": z(start), "to": z(end)},
    )
    assert response.status_code == 200, response.text
    return [
        (i["local_time"], i["utc_offset"], i["status"])
        for i in response.json()["items"]
        if i["kind"] == "checkin_prompt"
    ]


async def test_every_change_is_kept_and_shown_newest_first(program: Program) -> None:
    enrolled_at = program.clock.now()
    counselor, graduate = await enrolled(program)
    program.clock.advance(days=2)
    moved = await move(program, graduate, "America/Los_Angeles")
    assert moved.json()["timezone_history"][0]["timezone"] == "America/Los_Angeles"
    program.clock.advance(hours=1)
    await move(program, graduate, "America/Los_Angeles")  # the same zone again is no change
    program.clock.advance(days=1)
    await move(program, graduate, "Asia/Tokyo")

    response = await program.client.get(f"/v1/graduates/{graduate.graduate_id}", headers=counselor.headers)
    assert response.status_code == 200
    assert response.json()["timezone_history"] == [
        {
            "timezone": "Asia/Tokyo",
            "effective_from": z(program.clock.now()),
            "reported_at": z(program.clock.now()),
        },
        {
            "timezone": "America/Los_Angeles",
            "effective_from": z(enrolled_at + timedelta(days=2)),
            "reported_at": z(enrolled_at + timedelta(days=2)),
        },
        {"timezone": "America/Chicago", "effective_from": z(enrolled_at), "reported_at": z(enrolled_at)},
    ]
    # A refused change leaves no trace.
    refused = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"timezone": "Mars/Olympus"}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "timezone"
    again = await program.client.get(f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers)
    assert len(again.json()["timezone_history"]) == 3


async def test_reminders_before_a_move_keep_the_old_zone(program: Program) -> None:
    # T0 is noon in Chicago on Tuesday the 24th; the prompt goes out at 19:00 CST (01:00 UTC).
    counselor, graduate = await enrolled(program)
    await sweep(program.app.state.session_factory, now=utc(2026, 11, 25, 1), worker_id="w1")
    program.clock.set(utc(2026, 11, 25, 2))
    await move(program, graduate, "America/Los_Angeles")

    assert await prompts(program, counselor, graduate, utc(2026, 11, 24, 18), utc(2026, 11, 27, 8)) == [
        ("2026-11-24T19:00", "-06:00", "no_subscription"),  # sent in Chicago, shown as it was
        ("2026-11-25T19:00", "-08:00", "planned"),  # the next day's in Los Angeles
        ("2026-11-26T19:00", "-08:00", "planned"),
    ]


async def test_a_move_across_each_dst_change(program: Program) -> None:
    # Fall back (1 November): Saturday's prompt in Chicago daylight time, Sunday's in Pacific standard.
    program.clock.set(utc(2026, 10, 31, 17))
    counselor, graduate = await enrolled(program)
    await sweep(program.app.state.session_factory, now=utc(2026, 11, 1, 0), worker_id="w1")
    program.clock.set(utc(2026, 11, 1, 12))
    await move(program, graduate, "America/Los_Angeles")
    assert await prompts(program, graduate, graduate, utc(2026, 10, 31, 17), utc(2026, 11, 3, 12)) == [
        ("2026-10-31T19:00", "-05:00", "no_subscription"),
        ("2026-11-01T19:00", "-08:00", "planned"),
        ("2026-11-02T19:00", "-08:00", "planned"),
    ]
    # Spring forward (8 March): Saturday's in Chicago standard time, Sunday's in Pacific daylight.
    program.clock.set(utc(2026, 3, 7, 18))
    counselor, graduate = await enrolled(program)
    await sweep(program.app.state.session_factory, now=utc(2026, 3, 8, 1), worker_id="w1")
    program.clock.set(utc(2026, 3, 8, 12))
    await move(program, graduate, "America/Los_Angeles")
    assert await prompts(program, counselor, graduate, utc(2026, 3, 7, 18), utc(2026, 3, 10, 12)) == [
        ("2026-03-07T19:00", "-06:00", "no_subscription"),
        ("2026-03-08T19:00", "-07:00", "planned"),
        ("2026-03-09T19:00", "-07:00", "planned"),
    ]


async def test_the_timeline_shows_each_day_in_its_own_zone(program: Program) -> None:
    counselor, graduate = await enrolled(program)

    async def checkin(day: date) -> None:
        body = {
            "client_id": str(uuid.uuid4()),
            "local_date": day.isoformat(),
            "mood": 4,
            "craving": 1,
            "stress": 2,
            "used": False,
            "safety_concern": False,
        }
        response = await program.client.post(
            f"/v1/graduates/{graduate.graduate_id}/checkins", headers=graduate.headers, json=body
        )
        assert response.status_code == 201, response.text

    await checkin(date(2026, 11, 24))  # at noon in Chicago
    program.clock.set(utc(2026, 11, 25, 17))
    await move(program, graduate, "America/Los_Angeles")
    program.clock.set(utc(2026, 11, 25, 18))
    await checkin(date(2026, 11, 25))  # at 10:00 in Los Angeles

    response = await program.client.get(
        f"/v1/graduates/{graduate.graduate_id}/timeline", headers=counselor.headers
    )
    assert response.status_code == 200, response.text
    moves = [
        (i["timezone_change"]["timezone"], i["at"], i["local_time"])
        for i in response.json()["items"]
        if i["kind"] == "timezone_change"
    ]
    # The move in the zone it starts; the enrollment's zone at enrollment.
    assert moves == [
        ("America/Los_Angeles", "2026-11-25T17:00:00Z", "2026-11-25T09:00"),
        ("America/Chicago", "2026-11-24T18:00:00Z", "2026-11-24T12:00"),
    ]
    shown = [
        (i["local_date"], i["local_time"], i["utc_offset"])
        for i in response.json()["items"]
        if i["kind"] == "checkin"
    ]
    assert shown == [
        ("2026-11-25", "2026-11-25T10:00", "-08:00"),
        ("2026-11-24", "2026-11-24T12:00", "-06:00"),
    ]
