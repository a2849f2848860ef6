"""A scene for hostile requests: a program with something of everything each route acts on, and a
valid example body for every operation that takes one (``EXAMPLES``), from which the suite derives
its hostile variants field by field.

Every example must be accepted as it stands (the suite sends it last): so a refused variant is
refused for the one field the suite changed, not for something else.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import PASSWORD, Account, Program, unique_email

TODAY = date(2026, 11, 24)  # T0 in America/Chicago
SCHEDULE = {"rrule": "FREQ=WEEKLY;BYDAY=TU", "start_local": "2026-12-01T19:00", "duration_minutes": 60}
# One item in every section, every optional field filled: every free-text field of a plan.
PLAN: dict[str, Any] = {
    "therapy": [
        {
            "id": "th1",
            "kind": "individual",
            "provider": "Dr Rivera",
            "location": "Room 4",
            "url": "https://clinic.example/th1",
            "schedule": dict(SCHEDULE),
            "reminder_minutes_before": [60],
        }
    ],
    "support_groups": [
        {
            "id": "sg1",
            "name": "Tuesday AA",
            "fellowship": "AA",
            "schedule": dict(SCHEDULE),
            "location": "Church hall",
            "url": "https://meetings.example/sg1",
            "reminder_minutes_before": [30],
        }
    ],
    "coping_skills": [
        {"id": "cs1", "name": "Box breathing", "category": "body", "instructions": "In four, hold four"}
    ],
    "triggers": [
        {"id": "tr1", "name": "Payday", "category": "situations", "coping_skill_ids": ["cs1"], "risk": "high"}
    ],
    "warning_signs": [{"id": "ws1", "description": "Skipping meals"}],
    "medications": [
        # Daily since before T0, so today's 08:00 dose can be recorded (recordDose).
        {
            "id": "md1",
            "name": "Naltrexone",
            "dose": "50 mg",
            "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-11-01T08:00", "duration_minutes": 5},
            "remind": True,
        }
    ],
    "support_contacts": [{"id": "sc1", "name": "Sam", "relation": "sponsor", "phone": "+1 555 0100"}],
    "goals": [{"id": "gl1", "text": "Walk every day", "target_date": "2027-03-01"}],
    "crisis_plan": {"steps": ["Call Sam"], "crisis_line": "988"},
}


def browser_keys() -> dict[str, str]:
    """``keys`` of a browser's PushSubscription: a real P-256 point and 16 bytes of auth."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="),
        "auth": base64.urlsafe_b64encode(b"0123456789abcdef").decode().rstrip("="),
    }


def checkin(day: date, **answers: Any) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "local_date": day.isoformat(),
        "mood": 3,
        "craving": 2,
        "stress": 3,
        "used": False,
        "safety_concern": False,
        "sleep_hours": 7.5,
        "attended_support": True,
        "took_medication": True,
        "isolating": False,
        "triggers": ["tr1"],
        "coping_used": ["cs1"],
        "note": "A steady day",
        **answers,
    }


@dataclass
class Scene:
    """The cast and the records every route of the API can act on."""

    program: Program
    supervisor: Account
    counselor: Account
    graduate: Account  # has a plan, yesterday's check-in and an open safety alert
    bare_graduate: Account  # enrolled, no plan yet
    leaving: Account  # a counselor whose password the example changes, ending their sessions
    enrollment_code: str  # of a graduate not yet enrolled
    refresh_token: str  # the supervisor's
    spare_refresh_token: str  # the supervisor's too, of another sign-in: the example signs it out
    checkin_id: str
    alert_id: str
    subscription_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gid(self) -> uuid.UUID:
        assert self.graduate.graduate_id is not None
        return self.graduate.graduate_id


def rules(scene: Scene) -> dict[str, Any]:
    """A program rules body in the current shape, with a `staff` escalation level."""
    return {
        "rules": {"lapse": {"enabled": True, "repeat_window_days": 14}},
        "escalation": {
            "levels": [
                {"target": "staff", "staff_ids": [str(scene.supervisor.user_id)]},
                {"target": "assigned"},
                {"target": "supervisors"},
            ],
            "critical_repeats": 1,
        },
        "program": {
            "timezone": "America/Chicago",
            "business_hours": {"days": ["mon", "tue"], "start": "09:00", "end": "17:00"},
            "crisis_lines": {
                "en": {"number": "1-800-555-0100", "language_option": "1", "text_keyword": "TALK"},
                "es": {"number": "988", "language_option": "2", "text_keyword": "AYUDA"},
            },
        },
        "response_targets": {"critical": {"minutes": 15}},
        "nudge_after_minutes": 120,
    }


def outreach(scene: Scene) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "method": "call",
        "outcome": "reached",
        "note": "Talked for ten minutes",
        "occurred_at": "2026-11-24T18:00:00Z",  # T0: the graduate was added then
    }


@dataclass(frozen=True)
class Example:
    """A valid call of one operation: who makes it, to which path, with what body and headers."""

    caller: str  # a Scene attribute holding an Account, or "anonymous"
    path: str
    body: Callable[[Scene], Any]
    accepted: int  # the status the example itself gets
    headers: dict[str, str] = field(default_factory=dict)

    def account(self, scene: Scene) -> Account | None:
        return None if self.caller == "anonymous" else getattr(scene, self.caller)


GRADUATE = "/v1/graduates/{gid}"
EXAMPLES: dict[str, Example] = {
    "signIn": Example(
        "anonymous", "/v1/auth/token", lambda s: {"email": s.supervisor.email, "password": PASSWORD}, 200
    ),
    "refreshTokens": Example(
        "anonymous", "/v1/auth/refresh", lambda s: {"refresh_token": s.refresh_token}, 200
    ),
    "enroll": Example(
        "anonymous",
        "/v1/auth/enroll",
        lambda s: {
            "enrollment_code": s.enrollment_code,
            "email": unique_email("enrolled"),
            "password": PASSWORD,
        },
        201,
    ),
    "createStaff": Example(
        "supervisor",
        "/v1/staff",
        lambda s: {
            "email": unique_email("staff"),
            "password": PASSWORD,
            "display_name": "Jo Staff",
            "role": "counselor",
        },
        201,
    ),
    "updateStaff": Example(
        "supervisor",
        "/v1/staff/{counselor}",
        lambda s: {"active": True, "role": "counselor", "display_name": "Jo Counselor"},
        200,
    ),
    "createGraduate": Example(
        "supervisor",
        "/v1/graduates",
        lambda s: {
            "display_name": "Alex New",
            "timezone": "America/Chicago",
            "counselor_id": str(s.counselor.user_id),
            "checkin_time": "19:00",
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "discharge_date": "2027-06-01",
            "locale": "es",
        },
        201,
    ),
    "updateGraduate": Example(
        "supervisor",
        GRADUATE,
        lambda s: {
            "display_name": "Alex Renamed",
            "timezone": "America/Chicago",
            "checkin_time": "19:00",
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "status": "active",
            "discharge_date": "2027-06-01",
            "counselor_id": str(s.counselor.user_id),
            "locale": "en",
        },
        200,
    ),
    "putPlan": Example("counselor", GRADUATE + "/plan", lambda s: PLAN, 200, headers={"If-Match": "*"}),
    "startPlanFromTemplate": Example(
        "counselor", "/v1/graduates/{bare}/plan", lambda s: {"template_id": "iop-standard"}, 201
    ),
    "submitCheckin": Example("graduate", GRADUATE + "/checkins", lambda s: checkin(TODAY), 201),
    "amendCheckin": Example(
        "graduate",
        GRADUATE + "/checkins/{checkin}",
        lambda s: {
            "mood": 2,
            "craving": 3,
            "stress": 4,
            "used": False,
            "safety_concern": False,
            "sleep_hours": 6.0,
            "attended_support": False,
            "took_medication": True,
            "isolating": True,
            "triggers": ["tr1"],
            "coping_used": ["cs1"],
            "note": "Harder than I said",
        },
        200,
    ),
    "requestHelp": Example(
        "graduate",
        GRADUATE + "/help",
        lambda s: {"client_id": str(uuid.uuid4()), "message": "please call"},
        201,
    ),
    "recordDose": Example(
        "graduate",
        GRADUATE + "/doses",
        lambda s: {
            "client_id": str(uuid.uuid4()),
            "medication_id": "md1",
            "scheduled_for": "2026-11-24T14:00:00Z",  # 08:00 in Chicago on TODAY
            "status": "taken",
            "at": "2026-11-24T14:05:00Z",
        },
        201,
    ),
    # Before resolveAlert: outreach is recorded on an alert still open.
    "recordAlertOutreach": Example("counselor", "/v1/alerts/{alert}/outreach", outreach, 201),
    "recordGraduateOutreach": Example("counselor", GRADUATE + "/outreach", outreach, 201),
    "resolveAlert": Example(
        "counselor", "/v1/alerts/{alert}/resolve", lambda s: {"note": "Called, safe"}, 200
    ),
    "putProgramRules": Example("supervisor", "/v1/program/rules", rules, 200, headers={"If-Match": "*"}),
    "putOnCallRota": Example(
        "supervisor",
        "/v1/program/on-call-rota",
        lambda s: {
            "participants": [str(s.counselor.user_id), str(s.supervisor.user_id)],
            "starts_on": "2026-11-23",
            "handoff": "09:00",
            "rotation": "week",
            "hours": "always",
            "overrides": [
                {
                    "staff_id": str(s.supervisor.user_id),
                    "from": "2026-11-25T00:00:00Z",
                    "until": "2026-11-26T00:00:00Z",
                }
            ],
        },
        200,
        headers={"If-Match": "*"},
    ),
    "setStaffAway": Example(
        "supervisor",
        "/v1/staff/{counselor}/away",
        lambda s: {
            "from": "2026-11-24T19:00:00Z",
            "until": "2026-11-28T19:00:00Z",
            "covering_staff_id": str(s.supervisor.user_id),
            "note": "Family leave",
        },
        201,
    ),
    "changeMyPassword": Example(
        "leaving",
        "/v1/me/password",
        lambda s: {"current_password": PASSWORD, "new_password": "a kettle on the windowsill"},
        200,
    ),
    "signOut": Example(
        "anonymous", "/v1/auth/logout", lambda s: {"refresh_token": s.spare_refresh_token}, 204
    ),
    "markMyNotificationsRead": Example(
        "graduate", "/v1/me/notifications/read", lambda s: {"before": "2026-11-24T18:00:00Z"}, 200
    ),
    "createPushSubscription": Example(
        "graduate",
        "/v1/push/subscriptions",
        lambda s: {
            "endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
            "keys": browser_keys(),
            "expirationTime": 1893456000000,
        },
        201,
    ),
    # Last, and by the bare graduate: accepted, they end that graduate's sign-in and erase them.
    "requestDeletion": Example(
        "bare_graduate", "/v1/me/deletion-request", lambda s: {"confirm": True, "reason": "Moving away"}, 201
    ),
    "eraseGraduate": Example(
        "supervisor", "/v1/graduates/{bare}/erase", lambda s: {"reason": "graduate_request"}, 200
    ),
}


def fill(scene: Scene, template: str) -> str:
    return template.format(
        gid=scene.gid,
        bare=scene.bare_graduate.graduate_id,
        counselor=scene.counselor.user_id,
        checkin=scene.checkin_id,
        alert=scene.alert_id,
        subscription=scene.subscription_id,
    )


@pytest.fixture
async def scene(program: Program) -> AsyncIterator[Scene]:
    """The scene; afterwards the program's rules and on-call rota as they were, since the examples
    change them and the database is shared by the whole run."""
    client = program.client
    supervisor = await program.supervisor()
    as_supervisor = {**supervisor.headers, "If-Match": "*"}
    rules_before = (await client.get("/v1/program/rules", headers=supervisor.headers)).json()
    rota_before = await client.get("/v1/program/on-call-rota", headers=supervisor.headers)
    yield await _scene(program, supervisor)
    assert (
        await client.put("/v1/program/rules", headers=as_supervisor, json=rules_before)
    ).status_code == 200
    if rota_before.status_code == 200:
        restored = await client.put(
            "/v1/program/on-call-rota", headers=as_supervisor, json=rota_before.json()
        )
        assert restored.status_code == 200, restored.text
    else:
        await client.delete("/v1/program/on-call-rota", headers=as_supervisor)


async def _scene(program: Program, supervisor: Account) -> Scene:
    client = program.client
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    bare = await program.graduate(counselor)
    planned = await client.put(
        f"/v1/graduates/{graduate.graduate_id}/plan", headers=counselor.headers, json=PLAN
    )
    assert planned.status_code == 201, planned.text
    yesterday = await client.post(
        f"/v1/graduates/{graduate.graduate_id}/checkins",
        headers=graduate.headers,
        json=checkin(TODAY - timedelta(days=1)),
    )
    assert yesterday.status_code == 201, yesterday.text
    helped = await client.post(
        f"/v1/graduates/{graduate.graduate_id}/help",
        headers=graduate.headers,
        json={"client_id": str(uuid.uuid4())},
    )
    assert helped.status_code == 201, helped.text
    waiting = await client.post(
        "/v1/graduates",
        headers=counselor.headers,
        json={"display_name": "Not Yet", "timezone": "Europe/Oslo"},
    )
    assert waiting.status_code == 201, waiting.text
    signed_in = await program.sign_in(supervisor.email)
    spare = await program.sign_in(supervisor.email)
    subscribed = await client.post(
        "/v1/push/subscriptions",
        headers=graduate.headers,
        json={"endpoint": "https://fcm.googleapis.com/fcm/send/scene", "keys": browser_keys()},
    )
    assert subscribed.status_code == 201, subscribed.text
    return Scene(
        program=program,
        supervisor=supervisor,
        counselor=counselor,
        graduate=graduate,
        bare_graduate=bare,
        leaving=await program.staff(supervisor),
        enrollment_code=waiting.json()["enrollment_code"],
        refresh_token=signed_in["refresh_token"],
        spare_refresh_token=spare["refresh_token"],
        checkin_id=yesterday.json()["id"],
        alert_id=helped.json()["alert_id"],
        subscription_id=subscribed.json()["id"],
    )


# The push fixtures (a started loopback push service, a sender with a 1 s timeout, ...), as
# tests/push/conftest.py offers them to tests outside tests/push.
from tests.push.conftest import (  # noqa: E402, F401
    push_sender,
    push_session,
    quiet_outbox,
    session_factory,
    start_push_service,
    vapid_keys,
    vapid_signer,
)
