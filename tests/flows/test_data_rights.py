"""Data rights (issue 22): a graduate's export, their deletion request, and a supervisor's erasure.

The erasure proof is generic: after erasing a graduate seeded with rich data through the API, every
column of every table the database's own catalog lists (not only the models': a table someone forgot
to register is searched too) is read back and searched for each of the person's strings. JSON is
searched as its text and binary columns as the text they hold. The database is shared by the whole
test session, so the strings carry a marker no other test writes.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.auth.principal import Principal
from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest
from aftercare.checkins.schemas import CheckinCreate, HelpCreate
from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.errors import NotFound
from aftercare.flows import export, help_now, personal_data, submit
from aftercare.flows.sweep import sweep
from aftercare.scheduling.models import Schedule
from tests.conftest import PASSWORD, Account, Program
from tests.fakes.push_service import FakePushService
from tests.push.conftest import StartPushService
from tests.scheduling.conftest import Factory

TODAY = date(2026, 11, 24)  # T0, 12:00 in Chicago


@pytest.fixture
async def device_service(start_push_service: StartPushService, clock: FixedClock) -> FakePushService:
    return await start_push_service(clock)


@pytest.fixture
def settings(settings: Settings, device_service: FakePushService) -> Settings:
    return replace(settings, push_allowed_origins=f"defaults,{device_service.origin}")


@dataclass
class Person:
    """A graduate's strings: each must be gone after erasure."""

    marker: str

    @property
    def name(self) -> str:
        return f"Zelda Quixmarsh{self.marker}"

    @property
    def email(self) -> str:
        return f"zelda.{self.marker}@example.org"

    def text(self, what: str) -> str:
        return f"{what} {self.marker}"

    def secrets(self) -> list[str]:
        return [self.marker, self.name, self.email]


@dataclass
class Scene:
    person: Person
    supervisor: Account
    counselor: Account
    graduate: Account
    refresh_token: str
    client: httpx.AsyncClient

    @property
    def gid(self) -> uuid.UUID:
        assert self.graduate.graduate_id is not None
        return self.graduate.graduate_id


def plan(person: Person) -> dict[str, Any]:
    return {
        "therapy": [
            {
                "id": f"th-{person.marker}",
                "kind": "individual",
                "provider": person.text("Dr Fennimore"),
                "location": person.text("Maple Clinic"),
                "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=WE", "start_local": "2026-11-25T15:00"},
                "reminder_minutes_before": [60],
            }
        ],
        "coping_skills": [{"id": f"cs-{person.marker}", "name": person.text("Bramblewood walk")}],
        "triggers": [
            {
                "id": f"tr-{person.marker}",
                "name": person.text("Payday at Joe's"),
                "category": "places",
                "coping_skill_ids": [f"cs-{person.marker}"],
                "risk": "high",
            }
        ],
        "support_contacts": [{"id": "aunt", "name": person.text("Aunt Peregrine"), "relation": "aunt"}],
        "goals": [{"id": "goal", "text": person.text("Finish the welding course")}],
        "medications": [
            {
                "id": "med-1",
                "name": person.text("Naltrexone"),
                "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-11-01T08:00"},
            }
        ],
        "crisis_plan": {"steps": [person.text("Call Aunt Peregrine")], "crisis_line": "988"},
    }


async def seed(program: Program, device_service: FakePushService, fresh: Factory) -> Scene:
    """A graduate with something in every table that can hold them, all through the API (and the
    sweep, for their reminders and inbox)."""
    client = program.client
    person = Person(uuid.uuid4().hex[:12])
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    created = await client.post(
        "/v1/graduates",
        headers=counselor.headers,
        json={"display_name": person.name, "timezone": "America/Chicago"},
    )
    assert created.status_code == 201, created.text
    gid = uuid.UUID(created.json()["id"])
    enrolled = await client.post(
        "/v1/auth/enroll",
        json={
            "enrollment_code": created.json()["enrollment_code"],
            "email": person.email,
            "password": PASSWORD,
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    tokens = enrolled.json()
    graduate = Account(uuid.UUID(tokens["user_id"]), person.email, "graduate", tokens["access_token"], gid)

    put = await client.put(f"/v1/graduates/{gid}/plan", headers=counselor.headers, json=plan(person))
    assert put.status_code == 201, put.text
    checkin = await client.post(
        f"/v1/graduates/{gid}/checkins",
        headers=graduate.headers,
        json={
            "client_id": str(uuid.uuid4()),
            "local_date": TODAY.isoformat(),
            "mood": 2,
            "craving": 8,
            "stress": 7,
            "used": True,
            "safety_concern": False,
            "triggers": [f"tr-{person.marker}"],
            "note": person.text("Drank at my cousin's wedding"),
        },
    )
    assert checkin.status_code == 201, checkin.text
    amended = await client.patch(
        f"/v1/graduates/{gid}/checkins/{checkin.json()['id']}",
        headers=graduate.headers,
        json={"note": person.text("Actually it was two drinks")},
    )
    assert amended.status_code == 200, amended.text
    helped = await client.post(
        f"/v1/graduates/{gid}/help",
        headers=graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": person.text("Please call me tonight")},
    )
    assert helped.status_code == 201, helped.text
    alerts = await client.get("/v1/alerts", headers=counselor.headers, params={"graduate_id": str(gid)})
    lapse = next(a for a in alerts.json()["items"] if a["rule"] == "lapse")
    resolved = await client.post(
        f"/v1/alerts/{lapse['id']}/resolve",
        headers=counselor.headers,
        json={"note": person.text("Talked it through with Zelda")},
    )
    assert resolved.status_code == 200, resolved.text
    outreach = await client.post(
        f"/v1/graduates/{gid}/outreach",
        headers=counselor.headers,
        json={
            "client_id": str(uuid.uuid4()),
            "method": "call",
            "outcome": "reached",
            "note": person.text("She is staying with Aunt Peregrine"),
        },
    )
    assert outreach.status_code == 201, outreach.text
    dose = await client.post(
        f"/v1/graduates/{gid}/doses",
        headers=graduate.headers,
        json={
            "client_id": str(uuid.uuid4()),
            "medication_id": "med-1",
            "scheduled_for": "2026-11-24T14:00:00Z",  # 08:00 in Chicago
            "status": "taken",
        },
    )
    assert dose.status_code == 201, dose.text
    device = device_service.new_subscription()
    subscribed = await client.post(
        "/v1/push/subscriptions",
        headers=graduate.headers,
        json={"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}},
    )
    assert subscribed.status_code == 201, subscribed.text
    # Staff reads, each an audit row.
    for path in (f"/v1/graduates/{gid}", f"/v1/graduates/{gid}/timeline", f"/v1/graduates/{gid}/checkins"):
        read = await client.get(path, headers=counselor.headers)
        assert read.status_code == 200, read.text
    # Wednesday's therapy reminder (14:00 in Chicago, an hour before) into the graduate's inbox.
    await sweep(fresh, now=program.clock.now() + timedelta(hours=26, minutes=1), worker_id="rights")
    inbox = await client.get("/v1/me/notifications", headers=graduate.headers)
    assert any(n["kind"] == "therapy_reminder" for n in inbox.json()["items"]), inbox.text
    # A move, after the reminder (planned in Chicago): the time-zone history has two entries.
    moved = await client.patch(
        f"/v1/graduates/{gid}", headers=graduate.headers, json={"timezone": "America/Denver"}
    )
    assert moved.status_code == 200, moved.text
    return Scene(person, supervisor, counselor, graduate, tokens["refresh_token"], client)


async def export_of(scene: Scene) -> dict[str, Any]:
    response = await scene.client.get("/v1/me/export", headers=scene.graduate.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = json.loads(response.content)
    return document


async def rows_holding(engine: AsyncEngine, needles: list[str]) -> list[str]:
    """``table.column`` for every value anywhere in the database that holds one of ``needles``:
    every table the catalog lists, every column, JSON as its text, bytes decoded."""
    catalog = MetaData()
    async with engine.connect() as connection:
        await connection.run_sync(lambda sync: catalog.reflect(sync))
        found = []
        for table in catalog.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        text = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    found += [
                        f"{table.name}.{column}: {n}" for n in needles if n.casefold() in text.casefold()
                    ]
    assert len(catalog.tables) >= 20  # the catalog was read, not an empty schema
    return found


async def test_the_export_holds_everything_stored_about_the_graduate(
    program: Program, device_service: FakePushService, fresh: Factory, engine: AsyncEngine
) -> None:
    scene = await seed(program, device_service, fresh)
    person = scene.person
    document = await export_of(scene)

    assert document["format"] == "aftercare-export/1"
    assert document["graduate_id"] == str(scene.gid)
    assert document["profile"]["display_name"] == person.name
    assert [a["email"] for a in document["accounts"]] == [person.email]
    assert document["plan"]["body"]["goals"][0]["text"] == person.text("Finish the welding course")
    assert [v["version"] for v in document["plan_versions"]] == [1]
    [checkin] = document["checkins"]
    assert checkin["note"] == person.text("Actually it was two drinks") and checkin["craving"] == 8
    [amendment] = document["checkin_amendments"]
    assert amendment["answers"]["note"] == person.text("Drank at my cousin's wedding")
    assert document["help_requests"][0]["message"] == person.text("Please call me tonight")
    assert [(d["medication_id"], d["status"]) for d in document["doses"]] == [("med-1", "taken")]
    assert [z["timezone"] for z in document["timezone_history"]] == ["America/Chicago", "America/Denver"]
    # Staff's notes about the graduate are theirs to read.
    assert document["outreach"][0]["note"] == person.text("She is staying with Aunt Peregrine")
    lapse = next(a for a in document["alerts"] if a["rule"] == "lapse")
    assert lapse["resolution_note"] == person.text("Talked it through with Zelda")
    assert "therapy_reminder" in {n["kind"] for n in document["notifications"]}
    # A push endpoint is a capability: the origin only.
    [device] = document["push_subscriptions"]
    assert device["origin"] == device_service.origin and "endpoint" not in device
    assert device_service.origin + "/" not in json.dumps(document)
    assert document["deletion_requests"] == []
    # The access log: staff's reads, by role, without the staff members' ids.
    reads = [e for e in document["access_log"] if e["action"] == "read" and e["actor_role"] == "counselor"]
    assert {e["resource"] for e in reads} >= {"graduate", "timeline", "checkins"}
    assert str(scene.counselor.user_id) not in json.dumps(document["access_log"])
    # Machinery is left out.
    assert not {"sign_ins", "enrollment_codes", "schedules", "alert_events"} & document.keys()
    assert "fingerprint" not in checkin and "stored_response" not in checkin

    # Audited: the graduate exported their data (and the export says so itself, next time).
    again = await export_of(scene)
    assert next(e for e in again["access_log"] if e["action"] == "export")["actor_role"] == "graduate"


async def test_the_export_is_read_a_page_at_a_time_in_order(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(personal_data, "PAGE_SIZE", 2)
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, timezone="America/Chicago")
    days = [TODAY - timedelta(days=n) for n in range(5, -1, -1)]
    for day in days:
        response = await program.client.post(
            f"/v1/graduates/{graduate.graduate_id}/checkins",
            headers=graduate.headers,
            json={
                "client_id": str(uuid.uuid4()),
                "local_date": day.isoformat(),
                "mood": 4,
                "craving": 1,
                "stress": 2,
                "used": False,
                "safety_concern": False,
            },
        )
        assert response.status_code == 201, response.text
        program.clock.advance(minutes=1)
    response = await program.client.get("/v1/me/export", headers=graduate.headers)
    assert response.status_code == 200, response.text
    document = response.json()
    assert [c["local_date"] for c in document["checkins"]] == [d.isoformat() for d in days]
    assert document["plan"] is None and document["outreach"] == []


async def test_staff_have_no_export(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    for staff in (supervisor, counselor):
        response = await program.client.get("/v1/me/export", headers=staff.headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_deletion_request_ends_sign_in_and_tells_the_counselor_without_a_name(
    program: Program, device_service: FakePushService, fresh: Factory
) -> None:
    scene = await seed(program, device_service, fresh)
    client, person = scene.client, scene.person

    refused = await client.post("/v1/me/deletion-request", headers=scene.graduate.headers, json={})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["confirm"]
    unconfirmed = await client.post(
        "/v1/me/deletion-request", headers=scene.graduate.headers, json={"confirm": False}
    )
    assert unconfirmed.status_code == 422 and unconfirmed.json()["errors"][0]["field"] == "confirm"
    too_long = await client.post(
        "/v1/me/deletion-request", headers=scene.graduate.headers, json={"confirm": True, "reason": "x" * 501}
    )
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "reason"
    # Nothing of a refused request was written: still signed in.
    assert (await client.get("/v1/me", headers=scene.graduate.headers)).status_code == 200

    reason = person.text("Moving on, please forget me")
    made = await client.post(
        "/v1/me/deletion-request", headers=scene.graduate.headers, json={"confirm": True, "reason": reason}
    )
    assert made.status_code == 201, made.text
    request = made.json()
    assert request["status"] == "pending" and request["reason"] == reason

    # Signing in stops at once: the access token, the refresh token and the password.
    assert (await client.get("/v1/me", headers=scene.graduate.headers)).status_code == 401
    assert (await client.get("/v1/me/export", headers=scene.graduate.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": scene.refresh_token})
    assert refreshed.status_code == 401
    signed_in = await client.post("/v1/auth/token", json={"email": person.email, "password": PASSWORD})
    assert signed_in.status_code == 401

    # Discharged: no more prompts, reminders or day closes (no silence alerts about someone who left).
    profile = await client.get(f"/v1/graduates/{scene.gid}", headers=scene.counselor.headers)
    assert profile.json()["status"] == "discharged"
    async with program.app.state.session_factory() as session:
        assert list(await session.scalars(select(Schedule.id).where(Schedule.graduate_id == scene.gid))) == []

    # The counselor hears of it, with no name and no graduate id.
    inbox = await client.get("/v1/me/notifications", headers=scene.counselor.headers)
    [notice] = [n for n in inbox.json()["items"] if n["kind"] == "deletion_request"]
    assert notice["ref_id"] == request["id"]
    visible = json.dumps({k: notice[k] for k in ("title", "body", "url", "tag")})
    for secret in [*person.secrets(), str(scene.gid), "Zelda"]:
        assert secret not in visible

    # Supervisors see it, with the graduate's reason; counselors may not list requests.
    listed = await client.get(
        "/v1/deletion-requests", headers=scene.supervisor.headers, params={"status": "pending"}
    )
    assert listed.status_code == 200
    assert request["id"] in [r["id"] for r in listed.json()["items"]]
    assert (await client.get("/v1/deletion-requests", headers=scene.counselor.headers)).status_code == 403


async def test_the_notice_goes_to_the_cover_of_an_away_counselor(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    cover = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    now = program.clock.now()
    away = await program.client.put(
        f"/v1/staff/{counselor.user_id}/away",
        headers=supervisor.headers,
        json={
            "from": now.isoformat().replace("+00:00", "Z"),
            "until": (now + timedelta(days=3)).isoformat().replace("+00:00", "Z"),
            "covering_staff_id": str(cover.user_id),
        },
    )
    assert away.status_code in (200, 201), away.text
    made = await program.client.post(
        "/v1/me/deletion-request", headers=graduate.headers, json={"confirm": True}
    )
    assert made.status_code == 201, made.text

    def notices(items: list[dict[str, Any]]) -> list[str]:
        return [n["ref_id"] for n in items if n["kind"] == "deletion_request"]

    cover_inbox = await program.client.get("/v1/me/notifications", headers=cover.headers)
    own_inbox = await program.client.get("/v1/me/notifications", headers=counselor.headers)
    assert notices(cover_inbox.json()["items"]) == [made.json()["id"]]
    assert notices(own_inbox.json()["items"]) == []


async def test_without_a_counselor_the_supervisors_hear_of_it(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    gone = await program.client.patch(
        f"/v1/staff/{counselor.user_id}", headers=supervisor.headers, json={"active": False}
    )
    assert gone.status_code == 200, gone.text
    made = await program.client.post(
        "/v1/me/deletion-request", headers=graduate.headers, json={"confirm": True}
    )
    assert made.status_code == 201, made.text
    inbox = await program.client.get("/v1/me/notifications", headers=supervisor.headers)
    assert made.json()["id"] in [
        n["ref_id"] for n in inbox.json()["items"] if n["kind"] == "deletion_request"
    ]


async def test_erasure_leaves_nothing_of_the_person_in_any_table(
    program: Program,
    device_service: FakePushService,
    fresh: Factory,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    scene = await seed(program, device_service, fresh)
    client, person = scene.client, scene.person
    made = await client.post(
        "/v1/me/deletion-request",
        headers=scene.graduate.headers,
        json={"confirm": True, "reason": person.text("Please forget me")},
    )
    assert made.status_code == 201, made.text
    # Before: the strings are there to be found (the search can see them).
    assert len(await rows_holding(engine, [person.marker])) >= 10

    # Counselors may not erase (403: the role never may); a stranger's id is a 404.
    denied = await client.post(
        f"/v1/graduates/{scene.gid}/erase",
        headers=scene.counselor.headers,
        json={"reason": "graduate_request"},
    )
    assert denied.status_code == 403
    missing = await client.post(
        f"/v1/graduates/{uuid.uuid4()}/erase",
        headers=scene.supervisor.headers,
        json={"reason": "graduate_request"},
    )
    assert missing.status_code == 404
    bad = await client.post(
        f"/v1/graduates/{scene.gid}/erase", headers=scene.supervisor.headers, json={"reason": "because"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"

    erased = await client.post(
        f"/v1/graduates/{scene.gid}/erase",
        headers=scene.supervisor.headers,
        json={"reason": "graduate_request"},
    )
    assert erased.status_code == 200, erased.text
    tombstone = erased.json()
    assert tombstone["id"] == made.json()["id"]
    assert tombstone["status"] == "completed" and tombstone["reason"] is None
    assert tombstone["erased_by"] == str(scene.supervisor.user_id)
    assert tombstone["erasure_reason"] == "graduate_request" and tombstone["kept_clinical_answers"] is False

    # Nothing of the person anywhere: every table, every column.
    needles = [
        *person.secrets(),
        *(
            person.text(words)
            for words in (
                "Drank at my cousin's wedding",
                "Actually it was two drinks",
                "Please call me tonight",
                "Aunt Peregrine",
                "Talked it through with Zelda",
                "She is staying with Aunt Peregrine",
                "Bramblewood walk",
                "Dr Fennimore",
                "Maple Clinic",
                "Finish the welding course",
                "Please forget me",
            )
        ),
        device_service.origin + "/",
    ]
    assert await rows_holding(engine, needles) == []
    # Nor in anything logged while it all happened.
    logged = "\n".join(
        r.getMessage() + json.dumps(r.__dict__.get("extra", {}), default=str) for r in caplog.records
    )
    assert not [n for n in needles if n in logged]

    # Erasing again: the same tombstone, nothing changes.
    again = await client.post(
        f"/v1/graduates/{scene.gid}/erase", headers=scene.supervisor.headers, json={"reason": "legal_order"}
    )
    assert again.status_code == 200 and again.json() == tombstone

    # No endpoint brings the person back.
    for path in ("", "/checkins", "/timeline", "/plan", "/plan/versions", "/outreach", "/reminders"):
        gone = await client.get(f"/v1/graduates/{scene.gid}{path}", headers=scene.supervisor.headers)
        assert gone.status_code == 404, (path, gone.text)
    caseload = await client.get("/v1/graduates", headers=scene.supervisor.headers, params={"limit": 200})
    assert str(scene.gid) not in caseload.text
    feed = await client.get(
        "/v1/alerts", headers=scene.supervisor.headers, params={"graduate_id": str(scene.gid)}
    )
    assert feed.json()["items"] == []
    signed_in = await client.post("/v1/auth/token", json={"email": person.email, "password": PASSWORD})
    assert signed_in.status_code == 401
    assert (await client.get("/v1/me/export", headers=scene.graduate.headers)).status_code == 401
    # The flow itself answers 404 for an erased record, whoever asks.
    async with program.app.state.session_factory() as session:
        with pytest.raises(NotFound):
            await export.start_export(
                session,
                actor=Principal(user_id=scene.graduate.user_id, role="graduate", graduate_id=scene.gid),
                now=program.clock.now(),
            )

    # The audit log keeps the acts, by ids only; the erasure is one of them.
    log = await client.get(
        "/v1/audit", headers=scene.supervisor.headers, params={"graduate_id": str(scene.gid)}
    )
    entries = log.json()["items"]
    [erasure] = [e for e in entries if e["action"] == "erase"]
    assert erasure["actor_id"] == str(scene.supervisor.user_id) and erasure["resource_id"] == tombstone["id"]
    assert not [n for n in needles if n in log.text]


async def test_a_program_that_keeps_clinical_answers_keeps_the_scores_without_the_words(
    program: Program, device_service: FakePushService, fresh: Factory, engine: AsyncEngine
) -> None:
    scene = await seed(program, device_service, fresh)
    client, person = scene.client, scene.person
    rules = await client.get("/v1/program/rules", headers=scene.supervisor.headers)
    body = rules.json()
    keeping = {**body, "program": {**body["program"], "erasure_keeps_clinical_answers": True}}
    put = await client.put(
        "/v1/program/rules",
        headers={**scene.supervisor.headers, "If-Match": rules.headers["etag"]},
        json=keeping,
    )
    assert put.status_code == 200, put.text
    try:
        # Without a request: a supervisor may erase when the retention period ends.
        erased = await client.post(
            f"/v1/graduates/{scene.gid}/erase",
            headers=scene.supervisor.headers,
            json={"reason": "retention_period_ended"},
        )
        assert erased.status_code == 200, erased.text
        assert erased.json()["requested_by_graduate"] is False
        assert erased.json()["kept_clinical_answers"] is True
    finally:
        current = await client.get("/v1/program/rules", headers=scene.supervisor.headers)
        restored = await client.put(
            "/v1/program/rules",
            headers={**scene.supervisor.headers, "If-Match": current.headers["etag"]},
            json=body,
        )
        assert restored.status_code == 200, restored.text

    async with engine.connect() as connection:
        [kept] = (await connection.execute(select(Checkin).where(Checkin.graduate_id == scene.gid))).all()
        [version] = (
            await connection.execute(select(CheckinVersion).where(CheckinVersion.graduate_id == scene.gid))
        ).all()
    assert (kept.mood, kept.craving, kept.stress, kept.used) == (2, 8, 7, True)
    assert kept.note is None and kept.triggers == [] and version.answers["note"] is None
    assert version.answers["craving"] == 8
    assert await rows_holding(engine, person.secrets()) == []
    gone = await client.get(f"/v1/graduates/{scene.gid}/checkins", headers=scene.supervisor.headers)
    assert gone.status_code == 404


async def test_erasure_finds_every_account_the_graduate_ever_had(
    program: Program, engine: AsyncEngine
) -> None:
    """A lost phone: a new code, a new account; the old one (inactive, with its e-mail) goes too."""
    client, person = program.client, Person(uuid.uuid4().hex[:12])
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    created = await client.post(
        "/v1/graduates", headers=counselor.headers, json={"display_name": person.name, "timezone": "UTC"}
    )
    assert created.status_code == 201, created.text
    gid, code = created.json()["id"], created.json()["enrollment_code"]
    emails = [person.email, f"phone2.{person.marker}@example.org"]
    for email in emails:
        enrolled = await client.post(
            "/v1/auth/enroll", json={"enrollment_code": code, "email": email, "password": PASSWORD}
        )
        assert enrolled.status_code == 201, enrolled.text
        reissued = await client.post(f"/v1/graduates/{gid}/enrollment-code", headers=counselor.headers)
        assert reissued.status_code == 201, reissued.text
        code = reissued.json()["enrollment_code"]
    assert len(await rows_holding(engine, emails)) == 2

    erased = await client.post(
        f"/v1/graduates/{gid}/erase", headers=supervisor.headers, json={"reason": "consent_withdrawn"}
    )
    assert erased.status_code == 200, erased.text
    assert await rows_holding(engine, [*person.secrets(), *emails]) == []


async def test_acts_that_passed_the_guard_before_the_erasure_find_the_graduate_gone(
    program: Program, engine: AsyncEngine
) -> None:
    """The guard let them in while the account still existed; they take the graduate's lock after
    the erasure committed, and must write nothing: help (otherwise never refused), a check-in, an
    export."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, display_name="Late Arrival")
    assert graduate.graduate_id is not None
    erased = await program.client.post(
        f"/v1/graduates/{graduate.graduate_id}/erase",
        headers=supervisor.headers,
        json={"reason": "legal_order"},
    )
    assert erased.status_code == 200, erased.text
    actor = Principal(user_id=graduate.user_id, role="graduate", graduate_id=graduate.graduate_id)
    now = program.clock.now()
    factory = program.app.state.session_factory
    async with factory() as session:
        with pytest.raises(NotFound):
            await help_now.request_help(
                session,
                graduate_id=graduate.graduate_id,
                data=HelpCreate(client_id=uuid.uuid4(), message="late"),
                actor=actor,
                crisis_line="988",
                now=now,
            )
    with pytest.raises(NotFound):
        await submit.submit_checkin(
            engine,
            graduate_id=graduate.graduate_id,
            data=msgspec.convert(
                {
                    "client_id": str(uuid.uuid4()),
                    "local_date": TODAY.isoformat(),
                    "mood": 3,
                    "craving": 3,
                    "stress": 3,
                    "used": False,
                    "safety_concern": False,
                },
                CheckinCreate,
            ),
            actor=actor,
            crisis_line="988",
            now=now,
        )
    async with factory() as session:
        with pytest.raises(NotFound):
            await export.start_export(session, actor=actor, now=now)
    async with engine.connect() as connection:
        for model in (Checkin, HelpRequest):
            rows = await connection.execute(select(model.id).where(model.graduate_id == graduate.graduate_id))
            assert rows.all() == []
