"""Privacy checked, not hoped: the demo program, served at DEBUG with its sweeper and pushes, used by
its supervisor, counselor and graduate for everything they can do (sign-ins right and wrong,
reads of every record, a check-in with a note, an amendment, a cry for help, an alert resolved with a
note, a staff account made, a rename, the rules, the audit log, the alert stream, a push to a device,
refused input). Then no line the processes wrote, at any level, holds a name, an email, a
password, a note, a help message, a plan's words or a clinical value."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import select

from aftercare.alerts.models import Alert
from aftercare.auth.models import User
from aftercare.checkins.models import Checkin, HelpRequest
from aftercare.config import Settings
from aftercare.db.engine import make_engine
from aftercare.demo import DEMO_LOGINS, DEMO_PASSWORD
from aftercare.graduates.models import Graduate
from aftercare.plans.models import PlanVersion
from tests.fakes.push_service import run_in_thread
from tests.hostile.servers import AFTERCARE, call, environment, serve

NOTE = "Slept badly, craved at the bus stop near Maple Street"
AMENDED = "Called Robin from group instead, felt better after"
HELP = "Please call me, I am at my brother Ezekiel's flat"
RESOLUTION = "Reached by phone, staying with Ezekiel tonight"
NEW_STAFF = ("Quinlan Okafor-Smythe", "quinlan.okafor@clinic.example")
RENAMED = "Jordan Marchetti-Vale"
# Clinical data by its field names: no log line may carry a value next to any of these.
CLINICAL = re.compile(r"mood|craving|stress|sleep_hours|safety_concern|risk_score|took_medication|isolating")


def _plan_words(body: object) -> set[str]:
    """Every free text of a stored plan (names, instructions, goals, contacts, phones)."""
    if isinstance(body, dict):
        return {
            w
            for key, value in body.items()
            if key not in ("id", "rrule", "start_local")
            for w in _plan_words(value)
        }
    if isinstance(body, list):
        return {w for item in body for w in _plan_words(item)}
    return {body} if isinstance(body, str) else set()


async def _personal_data(env: dict[str, str]) -> set[str]:
    engine = make_engine(Settings.from_env(env))
    try:
        async with engine.connect() as connection:
            found: set[str] = set()
            for email, name in (await connection.execute(select(User.email, User.display_name))).all():
                found |= {email, email.split("@")[0], name}
            found |= set((await connection.scalars(select(Graduate.display_name))).all())
            found |= {n for n in (await connection.scalars(select(Checkin.note))).all() if n}
            found |= {m for m in (await connection.scalars(select(HelpRequest.message))).all() if m}
            found |= {n for n in (await connection.scalars(select(Alert.resolution_note))).all() if n}
            # A plan's phrases ("Skipping dinner and staying up past 1 a.m."), not its one-word
            # categories ("connection", "sponsor"), which name nothing in particular.
            for body in (await connection.scalars(select(PlanVersion.body))).all():
                found |= {words for words in _plan_words(body) if " " in words.strip()}
    finally:
        await engine.dispose()
    return {text for text in found if len(text) >= 5}


def _use_everything(base: str, push_origin_device: dict[str, object]) -> None:
    supervisor_email, counselor_email, graduate_email = (login[1] for login in DEMO_LOGINS)

    def token(email: str) -> str:
        status, body = call(base, "POST", "/v1/auth/token", {"email": email, "password": DEMO_PASSWORD})
        assert status == 200, body
        return str(body["access_token"])

    assert (
        call(base, "POST", "/v1/auth/token", {"email": counselor_email, "password": "not-it-at-all"})[0]
        == 401
    )
    assert call(base, "POST", "/v1/auth/token", {"email": "nobody@clinic.example", "password": "x"})[0] == 401
    enroll = {"enrollment_code": "WRONG-CODE", "email": "newcomer@clinic.example", "password": DEMO_PASSWORD}
    assert call(base, "POST", "/v1/auth/enroll", enroll)[0] in (401, 422)
    supervisor, counselor, graduate = token(supervisor_email), token(counselor_email), token(graduate_email)
    me = call(base, "GET", "/v1/me", token=graduate)[1]
    gid = me["graduate_id"]

    for path in (
        "/v1/graduates",
        "/v1/alerts",
        "/v1/me/notifications",
        "/v1/program/rules",
        "/v1/plan-templates",
    ):
        assert call(base, "GET", path, token=counselor)[0] == 200, path
    for graduate_row in call(base, "GET", "/v1/graduates", token=counselor)[1]["items"]:
        for suffix in ("", "/plan", "/plan/versions", "/checkins", "/timeline", "/reminders"):
            status, _ = call(base, "GET", f"/v1/graduates/{graduate_row['id']}{suffix}", token=counselor)
            assert status in (200, 404), (suffix, status)

    today = call(base, "GET", f"/v1/graduates/{gid}/reminders", token=graduate)  # warms the zone
    assert today[0] == 200
    plan = call(base, "GET", f"/v1/graduates/{gid}/plan", token=graduate)[1]
    local_today = call(base, "GET", f"/v1/graduates/{gid}", token=graduate)[1]["last_checkin_date"]
    checkin = {
        "client_id": str(uuid.uuid4()),
        "local_date": _next_day(local_today),
        "mood": 2,
        "craving": 8,
        "stress": 7,
        "used": True,
        "safety_concern": False,
        "triggers": [plan["triggers"][0]["id"]],
        "note": NOTE,
    }
    status, stored = call(base, "POST", f"/v1/graduates/{gid}/checkins", checkin, graduate)
    assert status == 201, stored
    assert (
        call(base, "PATCH", f"/v1/graduates/{gid}/checkins/{stored['id']}", {"note": AMENDED}, graduate)[0]
        == 200
    )
    assert call(base, "POST", "/v1/push/subscriptions", push_origin_device, counselor)[0] == 201
    status, helped = call(
        base, "POST", f"/v1/graduates/{gid}/help", {"client_id": str(uuid.uuid4()), "message": HELP}, graduate
    )
    assert status == 201, helped
    assert call(base, "POST", f"/v1/alerts/{helped['alert_id']}/acknowledge", token=counselor)[0] == 200
    assert (
        call(base, "POST", f"/v1/alerts/{helped['alert_id']}/resolve", {"note": RESOLUTION}, counselor)[0]
        == 200
    )

    staff = {
        "email": NEW_STAFF[1],
        "password": DEMO_PASSWORD,
        "display_name": NEW_STAFF[0],
        "role": "counselor",
    }
    assert call(base, "POST", "/v1/staff", staff, supervisor)[0] == 201
    assert call(base, "POST", "/v1/staff", staff, supervisor)[0] == 409  # the same email again
    assert call(base, "PATCH", f"/v1/graduates/{gid}", {"display_name": RENAMED}, supervisor)[0] == 200
    assert call(base, "PATCH", f"/v1/graduates/{gid}", {"timezone": "Mars/" + RENAMED}, supervisor)[0] == 422
    assert call(base, "PUT", "/v1/program/rules", {"nudge_after_minutes": 90}, supervisor)[0] == 428
    assert call(base, "GET", "/v1/audit", token=supervisor)[0] == 200
    assert call(base, "GET", f"/v1/graduates/{uuid.uuid4()}", token=counselor)[0] == 404
    assert (
        call(base, "POST", f"/v1/graduates/{gid}/checkins", {**checkin, "note": "x" * 3000}, graduate)[0]
        == 422
    )
    ticket = call(base, "POST", "/v1/auth/stream-ticket", token=counselor)[1]["ticket"]
    _peek_at_the_stream(base, ticket)


def _next_day(day: str | None) -> str:
    from datetime import date, timedelta

    assert day is not None
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _peek_at_the_stream(base: str, ticket: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{base}/v1/alerts/stream?ticket={ticket}", timeout=10) as response:
        assert response.status == 200
        assert response.readline().startswith(b":")


async def test_no_log_line_holds_personal_data(tmp_path: Path) -> None:
    with run_in_thread() as device_service:
        extra = {
            "AFTERCARE_LOG_LEVEL": "DEBUG",
            "AFTERCARE_SCHEDULER": "on",
            "AFTERCARE_SWEEP_INTERVAL_SECONDS": "0.5",
            "AFTERCARE_PUSH_ALLOWED_ORIGINS": f"defaults,{device_service.origin}",
        }
        with environment("sqlite", tmp_path / "data", **extra) as env:
            seeded = await asyncio.to_thread(
                subprocess.run,
                [str(AFTERCARE), "seed-demo"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert seeded.returncode == 0, seeded.stderr
            server = await asyncio.to_thread(serve, env, log=tmp_path / "serve.log")
            try:
                device = device_service.new_subscription().as_json()
                await asyncio.to_thread(_use_everything, server.base_url, device)
                for _ in range(100):  # the sweeper pushes the help alert to the counselor's device
                    if device_service.received:
                        break
                    await asyncio.sleep(0.1)
                assert device_service.received, "no push was sent: the scenario did not reach the sweeper"
            finally:
                server.stop()
            secrets = await _personal_data(env) | {
                DEMO_PASSWORD,
                NOTE,
                AMENDED,
                HELP,
                RESOLUTION,
                *NEW_STAFF,
                RENAMED,
            }

    lines = seeded.stderr.splitlines() + (tmp_path / "serve.log").read_text().splitlines()
    assert len(lines) > 50, "the server logged almost nothing: is DEBUG on?"
    assert any(
        json.loads(line).get("route") == "/v1/graduates/{graduate_id}/help"
        for line in lines
        if line.startswith("{")
    )
    leaks = [(secret, line) for line in lines for secret in secrets if secret.lower() in line.lower()]
    assert not leaks, "\n".join(f"{secret!r} in {line[:300]}" for secret, line in leaks[:20])
    clinical = [line for line in lines if CLINICAL.search(line.lower())]
    assert not clinical, "\n".join(clinical[:20])
    print(f"\nprivacy: {len(lines)} log lines, {len(secrets)} personal strings, none found")


async def test_a_database_error_names_its_statement_but_not_its_values(engine: object) -> None:
    """Error texts end up in log lines (``exc_info`` at DEBUG): the engine hides statement parameters."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert isinstance(engine, AsyncEngine)
    secret = "Ezekiel's flat on Maple Street"
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table WHERE note = :note"), {"note": secret})
    except DBAPIError as error:
        assert "no_such_table" in str(error) and secret not in str(error)
    else:
        raise AssertionError("the statement should have failed")
