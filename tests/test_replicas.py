"""Shared secrets for scale-out (issue 21, item 4): on PostgreSQL ``aftercare serve``, ``worker``
and ``seed-demo`` refuse to start without AFTERCARE_JWT_SECRET and AFTERCARE_VAPID_PRIVATE_KEY;
with them, two servers and a worker with different data directories accept each other's tokens
and enrollment codes and push with the one VAPID key the browser subscribed with.

The refusal needs no database (it comes first). The replicas run as the real console script on a
fresh database of the machine's PostgreSQL (``AFTERCARE_TEST_POSTGRES_URL``), deliver to the
loopback push service, and are absent without that URL like every other PostgreSQL variant.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from aftercare.cli import main
from aftercare.push.vapid import VapidKeys
from tests.alerts.test_stream import free_port, start_server, stop, wait_until_live
from tests.conftest import PASSWORD, POSTGRES_URL, unique_email
from tests.fakes.push_service import FakePushService
from tests.test_cli import AFTERCARE, REPO

UNREACHABLE_POSTGRES = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


def _clean_env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    return {**clean, **extra}


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["seed-demo"]])
def test_postgres_without_shared_secrets_refuses_to_start(command: list[str], tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"AFTERCARE_DATABASE_URL": UNREACHABLE_POSTGRES, "AFTERCARE_DATA_DIR": str(tmp_path)}
    neither = runner.invoke(
        main, command, env={**env, "AFTERCARE_JWT_SECRET": None, "AFTERCARE_VAPID_PRIVATE_KEY": None}
    )
    assert neither.exit_code != 0
    assert "AFTERCARE_JWT_SECRET and AFTERCARE_VAPID_PRIVATE_KEY" in neither.output
    assert "aftercare secrets" in neither.output
    one = runner.invoke(
        main, command, env={**env, "AFTERCARE_JWT_SECRET": "j" * 40, "AFTERCARE_VAPID_PRIVATE_KEY": None}
    )
    assert one.exit_code != 0 and "set AFTERCARE_VAPID_PRIVATE_KEY:" in one.output
    assert not (tmp_path / "jwt_secret").exists() and not (tmp_path / "vapid_private.pem").exists()


def test_a_short_jwt_secret_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve"], env={"AFTERCARE_DATA_DIR": str(tmp_path), "AFTERCARE_JWT_SECRET": "short"}
    )
    assert result.exit_code != 0 and "at least 32 characters" in result.output


def _aftercare(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The installed console script, as an operator runs it."""
    return subprocess.run(
        [str(AFTERCARE), *args], input=stdin, env=env, capture_output=True, text=True, timeout=120, cwd=REPO
    )


def test_secrets_prints_the_data_directorys_secrets_and_keeps_them(tmp_path: Path) -> None:
    env = _clean_env(AFTERCARE_DATA_DIR=str(tmp_path))
    first = _aftercare(env, "secrets")
    assert first.returncode == 0, first.stderr
    lines = dict(line.split("=", 1) for line in first.stdout.splitlines())
    assert set(lines) == {"AFTERCARE_JWT_SECRET", "AFTERCARE_VAPID_PRIVATE_KEY"}
    assert lines["AFTERCARE_JWT_SECRET"] == (tmp_path / "jwt_secret").read_text().strip()
    keys = VapidKeys.from_text(lines["AFTERCARE_VAPID_PRIVATE_KEY"])
    assert (
        keys.public_key_b64
        == VapidKeys.from_text((tmp_path / "vapid_private.pem").read_text()).public_key_b64
    )
    assert keys.public_key_b64 in first.stderr
    again = _aftercare(env, "secrets")
    assert again.stdout == first.stdout  # the same data dir, the same secrets: existing subscriptions live


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    assert POSTGRES_URL
    name = f"replicas_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs AFTERCARE_TEST_POSTGRES_URL")
async def test_two_servers_and_a_worker_share_tokens_codes_and_one_vapid_key(
    fresh_database: str, tmp_path: Path
) -> None:
    device_service = FakePushService()
    await device_service.start()
    made = await asyncio.to_thread(
        _aftercare, _clean_env(AFTERCARE_DATA_DIR=str(tmp_path / "secrets")), "secrets"
    )
    assert made.returncode == 0, made.stderr
    shared = dict(line.split("=", 1) for line in made.stdout.splitlines())
    common = _clean_env(
        AFTERCARE_DATABASE_URL=fresh_database,
        AFTERCARE_LOG_LEVEL="WARNING",
        AFTERCARE_PUSH_ALLOWED_ORIGINS=f"defaults,{device_service.origin}",
        **shared,
    )

    def env_for(name: str, **extra: str) -> dict[str, str]:
        return {**common, "AFTERCARE_DATA_DIR": str(tmp_path / name), **extra}

    migrated = await asyncio.to_thread(_aftercare, env_for("a"), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    supervisor_email = unique_email("replica-supervisor")
    created = await asyncio.to_thread(
        _aftercare,
        env_for("a"),
        "users",
        "create",
        "--role",
        "supervisor",
        "--email",
        supervisor_email,
        stdin=PASSWORD,
    )
    assert created.returncode == 0, created.stderr

    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"serve-{name}.log"
            processes.append(
                start_server(
                    ["-m", "aftercare.cli", "serve", "--port", str(port)],
                    env_for(name, AFTERCARE_SCHEDULER="off"),
                    log,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        processes.append(
            start_server(
                ["-m", "aftercare.cli", "worker"],
                env_for("worker", AFTERCARE_SWEEP_INTERVAL_SECONDS="0.3"),
                tmp_path / "worker.log",
            )
        )
        for process, base, name in zip(processes, bases, "ab", strict=False):
            wait_until_live(process, base, tmp_path / f"serve-{name}.log")
        a = httpx.AsyncClient(base_url=bases[0], timeout=10)
        b = httpx.AsyncClient(base_url=bases[1], timeout=10)
        async with a, b:
            await _share_everything(a, b, supervisor_email, device_service, shared)
        worker = processes[2]
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        for process in processes:
            stop(process)
        await device_service.stop()
    for name in ("a", "b", "worker"):  # nothing generated per data directory
        assert not (tmp_path / name / "jwt_secret").exists()
        assert not (tmp_path / name / "vapid_private.pem").exists()


async def _share_everything(
    a: httpx.AsyncClient,
    b: httpx.AsyncClient,
    supervisor_email: str,
    device_service: FakePushService,
    shared: dict[str, str],
) -> None:
    def bearer(tokens: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    # Tokens signed by one server are good on the other; refresh tokens too.
    signed_in = await a.post("/v1/auth/token", json={"email": supervisor_email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    supervisor = signed_in.json()
    assert (await b.get("/v1/me", headers=bearer(supervisor))).status_code == 200
    refreshed = await b.post("/v1/auth/refresh", json={"refresh_token": supervisor["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert (await a.get("/v1/me", headers=bearer(refreshed.json()))).status_code == 200

    counselor_email = unique_email("replica-counselor")
    staffed = await b.post(
        "/v1/staff",
        headers=bearer(supervisor),
        json={"email": counselor_email, "password": PASSWORD, "display_name": "C", "role": "counselor"},
    )
    assert staffed.status_code == 201, staffed.text
    counselor = (await a.post("/v1/auth/token", json={"email": counselor_email, "password": PASSWORD})).json()

    # An enrollment code made on one server (hashed with the JWT secret) works on the other.
    graduate_made = await a.post(
        "/v1/graduates", headers=bearer(counselor), json={"display_name": "G", "timezone": "America/Chicago"}
    )
    assert graduate_made.status_code == 201, graduate_made.text
    graduate_id = graduate_made.json()["id"]
    enrolled = await b.post(
        "/v1/auth/enroll",
        json={
            "enrollment_code": graduate_made.json()["enrollment_code"],
            "email": unique_email("replica-graduate"),
            "password": PASSWORD,
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    graduate = enrolled.json()
    assert (await a.get(f"/v1/graduates/{graduate_id}", headers=bearer(graduate))).status_code == 200

    # One VAPID key everywhere: the configured one.
    key_a = (await a.get("/v1/push/vapid-public-key")).json()["public_key"]
    key_b = (await b.get("/v1/push/vapid-public-key")).json()["public_key"]
    assert key_a == key_b == VapidKeys.from_text(shared["AFTERCARE_VAPID_PRIVATE_KEY"]).public_key_b64

    # A browser subscribes through B with B's key; a help request made through A opens an alert;
    # the worker (a third data directory) delivers it, signed with the key the browser accepts
    # (the loopback service answers 403 to any other key).
    device = device_service.new_subscription(application_server_key=key_b)
    subscribed = await b.post(
        "/v1/push/subscriptions",
        headers=bearer(counselor),
        json={"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}},
    )
    assert subscribed.status_code == 201, subscribed.text
    helped = await a.post(
        f"/v1/graduates/{graduate_id}/help", headers=bearer(graduate), json={"client_id": str(uuid.uuid4())}
    )
    assert helped.status_code == 201, helped.text
    started = time.monotonic()
    [push] = await device_service.wait_for(1, within=30)
    assert push.json()["type"] == "alert"
    assert device_service.rejections == []
    assert time.monotonic() - started < 30
